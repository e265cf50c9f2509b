"""The study's local workers, started before anything heavy is imported or computed.

Kept apart from :mod:`culturecart.study.run` (which imports torch, statsmodels and the rest, seconds of work):
the command line starts the workers first, so their own imports and model loading overlap the driver's.
"""

from __future__ import annotations

from culturecart.parallel import started_workers
from culturecart.study.config import StudyConfig


def study_workers(cfg: StudyConfig):
    """:func:`~culturecart.parallel.started_workers` for ``cfg``'s units (a context manager; nothing for
    backends without local workers).

    Events data: the workers import the stages' code, the models the units fit (the stages themselves do not
    import torch or LightGBM, so the driver never loads them) and torch's compiler front end (which the first
    optimizer a process builds imports, 1-2 s), and load the encoders (they encode the data). A markets
    folder: the rankers' code.

    Example:
        >>> from culturecart.study.config import load_config
        >>> with study_workers(load_config(None, "twin-small", ["parallel.n_jobs=1"])):
        ...     pass
    """
    if cfg.data.markets:
        return started_workers(cfg.parallel.n_jobs, cfg.parallel.backend, ["culturecart.study.markets"])
    modules = ["culturecart.study.units", "culturecart.study.stages", "culturecart.models.neural", "culturecart.models.tabular", "torch._dynamo"]
    return started_workers(cfg.parallel.n_jobs, cfg.parallel.backend, modules,
                           ("culturecart.encoders.dataset:warm_encoders", (cfg.encoders,)))
