"""Run many independent fits through joblib, with the backend as a setting.

``loky`` (local processes) is the default; ``threading`` and ``sequential`` need nothing else; ``dask``
needs ``distributed`` (connect a ``Client`` to your cluster first) and ``ray`` needs ``ray``. Results come
back in task order, so a parallel run returns exactly what a serial run returns.

Example:
    >>> parallel_map(pow, [(2, 3), (3, 2)], n_jobs=2, backend="threading")
    [8, 9]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


def parallel_map(fn: Callable[..., Any], tasks: Iterable[Sequence[Any]], n_jobs: int = 1,
                 backend: str = "loky", on_done: Callable[[int], None] | None = None) -> list[Any]:
    """``[fn(*task) for task in tasks]``, run on ``n_jobs`` workers of ``backend``.

    ``on_done(i)`` is called as each result ``i`` arrives (in task order), e.g. to advance a progress bar.
    """
    _prepare(backend)
    tasks = list(tasks)
    results = []
    if n_jobs == 1 or backend == "sequential" or len(tasks) <= 1:
        stream = (fn(*t) for t in tasks)
        for i, value in enumerate(stream):
            results.append(value)
            if on_done:
                on_done(i)
        return results
    with parallel_config(backend=backend, n_jobs=n_jobs):
        for i, value in enumerate(Parallel(return_as="generator")(delayed(fn)(*t) for t in tasks)):
            results.append(value)
            if on_done:
                on_done(i)
    return results
