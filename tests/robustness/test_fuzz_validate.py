"""Property-based fuzzing of ``validate``: one random corruption of a valid dataset gives exit 1 with a problem
naming the corrupted table and column, never a crash (exit 3)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from culturecart.cli import app
from tests.helpers import runner

# (table, column) -> values that the schema must refuse there.
CORRUPTIONS = {
    ("users", "user_id"): [None, "", "@dup"],
    ("users", "country"): ["XX", "[/bold]", "usa", 7],
    ("users", "age"): [-1.0, 500.0, "old", np.inf],
    ("items", "item_id"): [None, "@dup"],
    ("items", "price"): [-0.01, "cheap", np.inf, -np.inf],
    ("items", "discount_rate"): [1.5, -0.2, "half"],
    ("items", "rating"): [5.5, -1.0, np.inf],
    ("items", "review_count"): [-3.0, "many"],
    ("events", "session_id"): [None, ""],
    ("events", "item_id"): [None, "no-such-item", ""],
    ("events", "user_id"): ["no-such-user"],
    ("events", "purchased"): [2, -1, None, "yes"],
    ("events", "position"): [0.0, -4.0, "top"],
    ("events", "dwell_time_s"): [-1.0, np.inf],
    ("events", "clicked"): [3.0, "no"],
    ("reviews", "item_id"): [None, "no-such-item"],
    ("reviews", "user_id"): ["no-such-user"],
}
KEYS = sorted(CORRUPTIONS)


@st.composite
def corruption(draw):
    table, column = draw(st.sampled_from(KEYS))
    value = draw(st.sampled_from(CORRUPTIONS[(table, column)]))
    return table, column, value, draw(st.integers(min_value=0, max_value=10_000))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=corruption())
def test_random_corruptions_are_named(tiny_dir: Path, case):
    table, column, value, seed = case
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ds"
        shutil.copytree(tiny_dir, copy, ignore=shutil.ignore_patterns("images", "matching"))
        frame = pd.read_parquet(copy / f"{table}.parquet")
        row = seed % len(frame)
        if value == "@dup":
            value = frame[column].iloc[(row + 1) % len(frame)]
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        (copy / f"{table}.parquet").unlink()
        frame.to_csv(copy / f"{table}.csv", index=False)
        result = runner.invoke(app, ["validate", str(copy), "--json", "--no-images"])
    assert result.exit_code == 1, result.output
    problems = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(p["table"] == table and p["column"] == column for p in problems), (case, problems)
