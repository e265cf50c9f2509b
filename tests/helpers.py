"""Helpers shared by the tests (a test-only module; fixtures stay in the conftest files).

* :func:`invoke`: run the command line in-process and check the error contract (exact exit code, the names a
  message must show, no traceback);
* :func:`set_cell`: a change for the ``damaged`` fixture that puts one value into one cell;
* :func:`write_market`: a rating file in the XMarket format with taste clusters;
* the settings that keep the shared small runs small (``STUDY_FAST``, ``FAST_ENCODERS``, ``MARKETS_FAST``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from culturecart.cli import app
from culturecart.data.simulate import SimulationConfig
from culturecart.encoders import EncoderConfig, EncodersConfig

runner = CliRunner()
TINY = SimulationConfig(n_users=50, n_products=12, countries=["KR", "US", "DE"], seed=3)
SMALL = SimulationConfig(n_users=300, n_products=80, seed=7)
# The twin-small study preset, trimmed further, shared by the study and report tests.
STUDY_FAST = ["rq1.models=[lightgbm]", "rq1.extra=[logistic]", "rq1.n_boot=20", "rq3.n_boot=20",
              "rq5.fractions=[0.0,1.0]", "rq5.arms=[local,global,culture]", "matching.enabled=true",
              "matching.folds=2",
              # twin-small is a small design (39 users per country): auto runs its 160 null replicates (about
              # 20 s on 2 cores), so the shared study shows the calibrated verdicts the default gives users
              "calibration=auto"]
NO_CALIBRATION = "calibration=0"  # for runs that test something else: auto would calibrate a small design
FAST_ENCODERS = EncodersConfig(text=EncoderConfig(name="char-hash"), image=EncoderConfig(name="image-hash"))
MARKETS_FAST = ["ranking.n_boot=100"]


def invoke(*args: object, exit_code: int, names: tuple[str, ...] = (), env: dict | None = None):
    """Run the CLI in-process; check the exit code, that every string in ``names`` is shown, and no traceback."""
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == exit_code, f"exit {result.exit_code}, wanted {exit_code}:\n{result.output}"
    assert "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    for name in names:
        assert name in result.output, f"{name!r} not in:\n{result.output}"
    return result


def set_cell(column: str, row: int, value: object):
    """A ``damaged`` change that puts ``value`` into one cell (the column becomes object when needed)."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if not isinstance(value, type(frame[column].iloc[0])) and value is not None:
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


def write_market(path: Path, market: str, users: int, seed: int, items: int = 60) -> None:
    """``<market>_5core.txt.gz``: each user rates 6-9 items, mostly from one of three item clusters."""
    rng = np.random.default_rng(seed)
    lines = ["userId itemId rate date"]
    for u in range(users):
        cluster = u % 3
        pool = [f"B{j:04d}" for j in range(items) if j % 3 == cluster]
        chosen = rng.choice(pool, size=rng.integers(6, 10), replace=False)
        for k, item in enumerate(chosen):
            lines.append(f"{market}{u:03d} {item} {rng.integers(1, 6)} 2020-01-{k + 1:02d}")
    with gzip.open(path / f"{market}_5core.txt.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
