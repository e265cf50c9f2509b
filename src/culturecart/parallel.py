"""Run many independent fits through joblib, with the backend as a setting.

``loky`` (local processes) is the default; ``threading`` and ``sequential`` need nothing else; ``dask``
needs ``distributed`` (connect a ``Client`` to your cluster first) and ``ray`` needs ``ray``. Results come
back in task order, so a parallel run returns exactly what a serial run returns.

``n_jobs=-1`` uses every core this process may run on. Local workers (loky) get an equal share of the
cores as their thread budget (joblib sets ``OMP_NUM_THREADS`` and friends in each worker), which the models
follow, so two workers on two cores run one thread each instead of fighting over both.

Example:
    >>> parallel_map(pow, [(2, 3), (3, 2)], n_jobs=2, backend="threading")
    [8, 9]
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from joblib import Parallel, delayed, parallel_config

BACKENDS = ("loky", "threading", "sequential", "dask", "ray")


def _prepare(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown parallel backend {backend!r}; valid: {list(BACKENDS)}")
    if backend == "dask":
        try:
            import distributed  # noqa: F401  (registers joblib's dask backend)
        except ImportError as err:
            raise ImportError("parallel backend 'dask' needs the 'distributed' package "
                              "(pip install 'dask[distributed]') and a running Client") from err
    elif backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as err:
            raise ImportError("parallel backend 'ray' needs the 'ray' package (pip install ray)") from err
        register_ray()


@contextlib.contextmanager
def dask_client(address: str, timeout: float = 10.0, hint: str = "") -> Iterator[Any]:
    """A ``distributed.Client`` connected to the scheduler at ``address`` (set as the default client), closed on
    exit; an :class:`~culturecart.errors.EnvironmentProblem` (exit code 4) when it cannot be reached in ``timeout``
    seconds (``hint`` ends that message), a :class:`~culturecart.errors.UsageError` when Dask is not installed."""
    from culturecart.errors import EnvironmentProblem, UsageError

    try:
        from distributed import Client
    except ImportError as err:
        raise UsageError("a Dask cluster needs the 'distributed' package: pip install 'dask[distributed]'") from err
    try:
        client = Client(address, set_as_default=True, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise EnvironmentProblem(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                                 f"({type(exc).__name__}: {exc}); is it running?{hint}") from None
    with client:
        yield client


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_budget(requested: int = 0) -> int:
    """Threads a computation here should use: ``requested`` when positive, else this process's budget.

    The budget is ``OMP_NUM_THREADS`` when set (joblib sets it in each worker to its share of the cores; a user
    may set it too), every available core otherwise.

    Example:
        >>> thread_budget(3)
        3
    """
    if requested > 0:
        return requested
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return available_cores()


@contextlib.contextmanager
def torch_threads(requested: int = 0):
    """Run torch on ``thread_budget(requested)`` threads inside the block, restoring the old count after.

    Torch's float sums depend on its thread count, so training that must give the same model under any
    core count or ``n_jobs`` asks for a fixed count (the neural models and ArcFace use 1 by default).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(thread_budget(requested))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_n_jobs(n_jobs: int) -> int:
    """``-1`` -> every available core; a positive count as it is."""
    if n_jobs == -1:
        return available_cores()
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive count or -1 (every core), got {n_jobs}")
    return n_jobs


# loky restarts a worker whose memory grew more than 300 MB past its size after its first task, taking that
# for a leak. These workers keep what their tasks loaded on purpose (torch, LightGBM, per-process caches), so a
# restart costs seconds of imports and the caches; the bound below replaces loky's in every worker.
WORKER_MEMORY_GROWTH = 2 * 1024 ** 3


def _bound_worker_memory() -> None:
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = max(process_executor._MAX_MEMORY_LEAK_SIZE, WORKER_MEMORY_GROWTH)


PARENT_POLL_SECONDS = 1.0  # a local worker whose driver died exits within this (plus the thread's wake-up)
_watching: list[int] = []


def _watch_parent(driver: int) -> None:
    """In a local worker process of ``driver``: exit as soon as the driver is gone (killed with SIGKILL, it cannot
    stop its workers; they would hold their memory for minutes)."""
    if _watching or os.getpid() == driver or os.getppid() != driver:  # the driver itself, or a remote worker
        return
    _watching.append(driver)

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="culturecart-parent-watch", daemon=True).start()


def _indexed(fn: Callable[..., Any], i: int, args: Sequence[Any], driver: int = 0) -> tuple[int, Any]:
    _bound_worker_memory()
    if driver:
        _watch_parent(driver)
    return i, fn(*args)


def _import(modules: Sequence[str], prepare: tuple[Callable[..., Any] | str, Sequence[Any]] | None = None) -> None:
    for module in modules:
        importlib.import_module(module)
    if prepare is not None:
        fn = prepare[0]
        if isinstance(fn, str):  # "module:function", imported here rather than by the caller
            module, _, name = fn.partition(":")
            fn = getattr(importlib.import_module(module), name)
        fn(*prepare[1])


_starting: list[Iterator[Any]] = []  # workers being started by started_workers, waited for by the next map
_entered: list[tuple[str, int]] = []  # (backend, n_jobs) of each started_workers block this process is inside


@contextlib.contextmanager
def started_workers(n_jobs: int, backend: str = "loky", modules: Sequence[str] = (),
                    prepare: tuple[Callable[..., Any] | str, Sequence[Any]] | None = None):
    """Start ``backend``'s local worker processes at once, in the background, each importing ``modules``
    and then calling ``prepare``: a ``(function, args)`` pair, e.g. one that loads models a per-process cache
    keeps for the job's tasks; the function may be named ``"module:function"``, so that the caller need not
    import it.

    A long job enters this before its serial preparation (loading data, encoding), so that the seconds a fresh
    worker spends starting Python and importing torch or LightGBM overlap that work instead of delaying the
    first parallel task. The next :func:`parallel_map` in the block waits for them; leaving the block without
    one (an error in the preparation) lets them go quietly. Only ``loky`` has local workers to start. Inside a
    block that started the same workers (a command that starts them before importing the job's code, around
    the job's own block), it starts nothing.
    """
    n_jobs = resolve_n_jobs(n_jobs)
    starts = backend == "loky" and n_jobs > 1 and (backend, n_jobs) not in _entered
    if starts:
        with parallel_config(backend=backend, n_jobs=n_jobs):
            _starting.append(Parallel(return_as="generator_unordered", batch_size=1)(
                delayed(_indexed)(_import, i, (list(modules), prepare), os.getpid()) for i in range(n_jobs)))
    _entered.append((backend, n_jobs))
    try:
        yield
    finally:
        _entered.pop()
        while starts and _starting:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joblib's note that the started tasks' results went unused
                _starting.pop().close()


def release_workers() -> None:
    """Stop the idle local (loky) workers now, without waiting for each to unload torch and the rest.

    For a command about to exit: otherwise the interpreter's exit waits about a second for the workers'
    own orderly exit. A later :func:`parallel_map` starts new workers.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)  # joblib keeps no public handle on it
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)


def parallel_map(fn: Callable[..., Any], tasks: Iterable[Sequence[Any]], n_jobs: int = 1,
                 backend: str = "loky", on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(*task) for task in tasks]``, run on ``n_jobs`` workers of ``backend``.

    Tasks start in the given order (put the longest first); ``on_done(i, result)`` is called as each task
    finishes, in finishing order, e.g. to store a result at once or to advance a progress bar. The list
    returned is in task order whatever the finishing order.
    """
    _prepare(backend)
    while _starting:  # one executor at a time: let started workers finish their imports first
        for _ in _starting.pop():
            pass
    tasks = list(tasks)
    n_jobs = resolve_n_jobs(n_jobs)
    results: list[Any] = [None] * len(tasks)
    if n_jobs == 1 or backend == "sequential" or len(tasks) <= 1:
        stream = ((i, fn(*t)) for i, t in enumerate(tasks))
    else:
        stream = _unordered(fn, tasks, backend, n_jobs)
    try:
        for i, value in stream:
            results[i] = value
            if on_done:
                on_done(i, value)
    finally:  # on an interruption too: the workers' queued tasks are cancelled now, quietly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joblib's note that the cancelled tasks' results went unused
            stream.close()
    return results


def _unordered(fn: Callable[..., Any], tasks: list[Sequence[Any]], backend: str, n_jobs: int):
    # One task per dispatch, two queued per worker: a long task never holds short ones hostage in its batch.
    with parallel_config(backend=backend, n_jobs=n_jobs):
        yield from Parallel(return_as="generator_unordered", batch_size=1, pre_dispatch="2*n_jobs")(
            delayed(_indexed)(fn, i, t, os.getpid()) for i, t in enumerate(tasks))
