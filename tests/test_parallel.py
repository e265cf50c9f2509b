import sys

import pytest

from culturecart.parallel import parallel_map


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("backend", ["loky", "threading", "sequential"])
def test_parallel_equals_serial(backend):
    tasks = [(i,) for i in range(7)]
    assert parallel_map(_square, tasks, n_jobs=2, backend=backend) == [i * i for i in range(7)]


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="valid"):
        parallel_map(_square, [(1,)], backend="mpi")


def test_missing_cluster_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed: importing it raises ImportError
    with pytest.raises(ImportError, match="distributed"):
        parallel_map(_square, [(1,), (2,)], n_jobs=2, backend="dask")


def _sleep_then(x: float) -> float:
    import time

    time.sleep(x)
    return x


def test_results_arrive_as_they_finish_and_return_in_task_order():
    seen = []
    out = parallel_map(_sleep_then, [(0.6,), (0.0,), (0.0,)], n_jobs=2, backend="loky",
                       on_done=lambda i, v: seen.append(i))
    assert out == [0.6, 0.0, 0.0]
    assert sorted(seen) == [0, 1, 2] and seen[-1] == 0  # the slow first task finished last, reported last


def test_thread_budget_follows_omp_num_threads(monkeypatch):
    from culturecart.parallel import available_cores, resolve_n_jobs, thread_budget

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_budget() == 3 and thread_budget(5) == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert thread_budget() == available_cores() == resolve_n_jobs(-1)
    with pytest.raises(ValueError, match="-1"):
        resolve_n_jobs(0)


def test_torch_threads_restores_the_count():
    import torch

    from culturecart.parallel import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


_kept: list = []


def _grow_then_pid(megabytes: int) -> int:
    import os
    import time

    import numpy as np

    _kept.append(np.ones(megabytes * 2 ** 17))  # float64: megabytes * 1 MiB, touched
    time.sleep(1.05)  # past loky's one-second gap between memory checks
    return os.getpid()


def test_a_worker_that_keeps_memory_is_not_restarted():
    # loky would take 330 MB kept past a worker's first task for a leak and restart the worker (a new pid)
    pids = parallel_map(_grow_then_pid, [(110,)] * 10, n_jobs=2, backend="loky")
    assert len(set(pids)) <= 2


def _imported(module: str) -> bool:
    return module in sys.modules


def test_started_workers_have_imported_before_the_first_map():
    from culturecart import parallel

    with parallel.started_workers(2, "loky", ["wave"]):  # a module nothing else here imports
        assert parallel._starting
        seen = parallel_map(_imported, [("wave",)] * 4, n_jobs=2, backend="loky")
        assert not parallel._starting and any(seen)


def _prepared() -> str | None:
    import os

    return os.environ.get("CULTURECART_TEST_PREPARED")


def _prepare(value: str) -> None:
    import os

    os.environ["CULTURECART_TEST_PREPARED"] = value


def test_started_workers_run_prepare_after_their_imports():
    from culturecart import parallel

    parallel.release_workers()  # fresh workers: each runs the warm-up once
    with parallel.started_workers(2, "loky", ["wave"], (_prepare, ("yes",))):
        seen = parallel_map(_prepared, [()] * 4, n_jobs=2, backend="loky")
    assert "yes" in seen and _prepared() is None  # ran in the workers, not here
    parallel.release_workers()


def test_started_workers_take_prepare_by_name_and_start_once_when_nested():
    from culturecart import parallel

    parallel.release_workers()
    with parallel.started_workers(2, "loky", ["wave"], ("tests.test_parallel:_prepare", ("by name",))):
        assert len(parallel._starting) == 1
        with parallel.started_workers(2, "loky", ["wave"], (_prepare, ("inner",))):  # the job's own block
            assert len(parallel._starting) == 1  # nothing more started
        assert len(parallel._starting) == 1  # the inner block leaves the outer's workers to it
        seen = parallel_map(_prepared, [()] * 4, n_jobs=2, backend="loky")
    assert "by name" in seen and "inner" not in seen and not parallel._starting
    parallel.release_workers()


def test_started_workers_never_used_are_let_go_quietly(recwarn):
    from culturecart import parallel

    with pytest.raises(RuntimeError), parallel.started_workers(2, "loky", ["wave"]):
        raise RuntimeError("the preparation failed")
    assert not parallel._starting and not [w for w in recwarn if "tasks" in str(w.message)]


@pytest.mark.parametrize("backend, n_jobs", [("threading", 2), ("sequential", 2), ("loky", 1)])
def test_start_workers_starts_nothing_without_local_workers(backend, n_jobs):
    from culturecart import parallel

    with parallel.started_workers(n_jobs, backend, ["wave"]):
        assert not parallel._starting


def _pid() -> int:
    import os

    return os.getpid()


def test_released_workers_are_replaced_by_the_next_map():
    from culturecart.parallel import release_workers

    before = set(parallel_map(_pid, [()] * 4, n_jobs=2, backend="loky"))
    release_workers()
    release_workers()  # nothing left to release: no error
    after = set(parallel_map(_pid, [()] * 4, n_jobs=2, backend="loky"))
    assert before.isdisjoint(after)
