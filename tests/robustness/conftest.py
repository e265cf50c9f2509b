"""Fixtures of the robustness suite: one tiny simulated dataset and damaged copies (helpers: ``tests/helpers.py``).

Every case asserts the exact exit code (1 invalid input, 2 usage/config; never 3, which means a bug), that
the message names what it must, that no traceback is printed, and (where the case writes) that the output
location is untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from culturecart.data.simulate import write_marketplace
from tests.helpers import TINY


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
