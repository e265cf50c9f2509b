"""The same bad inputs through the Python API raise one exception family; exit 3 is kept for bugs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from culturecart.cli import app
from culturecart.data import Dataset, require_valid
from culturecart.errors import CultureCartError, InvalidInputError, UsageError
from culturecart.study.config import load_config
from tests.helpers import invoke, runner, set_cell


def test_require_valid_lists_problems_with_table_and_column(damaged):
    bad = damaged("items", set_cell("price", 2, -1.0))
    with pytest.raises(InvalidInputError) as info:
        require_valid(bad)
    [problem] = info.value.problems
    assert (problem.table, problem.column, problem.rows) == ("items", "price", (2,))
    assert info.value.exit_code == 1


def test_unreadable_files_raise_the_family(damaged):
    bad = damaged()
    (bad / "dataset.json").write_text("[1,")
    with pytest.raises(CultureCartError) as info:
        Dataset.load(bad)
    assert info.value.problems[0].file.endswith("dataset.json")


def test_config_errors_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        load_config(tmp_path)
    with pytest.raises(UsageError, match="rq1.n_boot"):
        load_config(preset="twin", overrides=["rq1.n_boot=1"])


def test_matching_model_load_raises_the_family(tmp_path):
    from culturecart.matching.model import MatchingModel

    (tmp_path / "matching.json").write_text("{}")
    with pytest.raises(InvalidInputError, match="damaged or incomplete"):
        MatchingModel.load(tmp_path)


def test_a_bug_exits_3_with_the_traceback_in_a_file(monkeypatch, tiny_dir):
    import culturecart.data.validate as validate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(validate, "validate_dataset", broken)
    res = invoke("validate", tiny_dir, exit_code=3, names=("internal error", "ZeroDivisionError", "--debug"))
    crash = res.output.split("traceback written to ")[1].split(";")[0]
    assert "planted bug" in Path(crash).read_text(encoding="utf-8")
    shown = runner.invoke(app, ["--debug", "validate", str(tiny_dir)])
    assert shown.exit_code == 3 and "Traceback" in shown.output


def test_missing_countries_are_fine_but_unknown_ones_are_not():
    users = pd.DataFrame({"user_id": ["a", "b"], "country": [None, "QQ"]})
    ds = Dataset(users=users, items=pd.DataFrame({"item_id": ["i"]}))
    with pytest.raises(InvalidInputError) as info:
        require_valid(ds, purpose="any")
    assert [(p.column, p.rows) for p in info.value.problems] == [("country", (1,))]
