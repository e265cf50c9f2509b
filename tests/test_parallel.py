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
