"""Shared pieces of the robustness suite: one tiny simulated dataset, damaged copies, the CLI contract check.

Every case asserts the exact exit code (1 invalid input, 2 usage/config; never 3, which means a bug), that
the message names what it must, that no traceback is printed, and (where the case writes) that the output
location is untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from culturecart.cli import app
from culturecart.data.simulate import SimulationConfig, write_marketplace

TINY = SimulationConfig(n_users=50, n_products=12, countries=["KR", "US", "DE"], seed=3)
runner = CliRunner()


def invoke(*args: object, exit_code: int, names: tuple[str, ...] = (), env: dict | None = None):
    """Run the CLI in-process; check the exit code, that every string in ``names`` is shown, and no traceback."""
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == exit_code, f"exit {result.exit_code}, wanted {exit_code}:\n{result.output}"
    assert "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    for name in names:
        assert name in result.output, f"{name!r} not in:\n{result.output}"
    return result


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny valid simulated dataset (read-only: copy it with ``damaged``)."""
    out = tmp_path_factory.mktemp("tiny") / "market"
    write_marketplace(out, TINY)
    return out


@pytest.fixture
def damaged(tiny_dir: Path, tmp_path: Path):
    """``damaged(table=None, change=None, name="bad")``: a copy of the tiny dataset with one table changed."""

    def make(table: str | None = None, change=None, name: str = "bad") -> Path:
        copy = tmp_path / name
        shutil.copytree(tiny_dir, copy)
        if table is not None:
            frame = pd.read_parquet(copy / f"{table}.parquet")
            result = change(frame)
            frame = frame if result is None else result
            try:
                frame.to_parquet(copy / f"{table}.parquet", index=False)
            except (ValueError, TypeError):  # mixed types (text in a number column): CSV holds anything
                (copy / f"{table}.parquet").unlink()
                frame.to_csv(copy / f"{table}.csv", index=False)
        return copy

    return make


def set_cell(column: str, row: int, value: object):
    """A ``damaged`` change that puts ``value`` into one cell (the column becomes object when needed)."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if not isinstance(value, type(frame[column].iloc[0])) and value is not None:
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change
