"""One small study shared by the study and report tests (the twin-small preset, trimmed further)."""

from __future__ import annotations

import pytest

from culturecart.study.config import load_config
from culturecart.study.run import run_study

FAST = ["rq1.models=[lightgbm]", "rq1.extra=[logistic]", "rq1.n_boot=20", "rq3.n_boot=20",
        "rq5.fractions=[0.0,1.0]", "rq5.arms=[local,global,culture]"]


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "run"
    return run_study(load_config(preset="twin-small", overrides=FAST), out, quiet=True)
