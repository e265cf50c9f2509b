"""Items 1 and 2: user data is never read as console markup; validate --json prints JSON lines only."""

from __future__ import annotations

import json
import shutil

from tests.helpers import invoke, set_cell


def test_markup_closing_tag_in_a_country_is_reported_literally(damaged):
    bad = damaged("users", set_cell("country", 2, "[/bold]"))
    res = invoke("validate", bad, exit_code=1, names=("users.country", "'[/bold]'", "row 2"))
    assert "MarkupError" not in res.output


def test_markup_in_a_country_reaches_study_as_an_invalid_input(damaged, tmp_path):
    bad = damaged("users", set_cell("country", 2, "[/bold]"))
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1,
           names=("users.country", "[/bold]"))
    assert not (tmp_path / "out").exists()


def test_style_tag_value_is_shown_whole(damaged):
    bad = damaged("users", set_cell("country", 4, "[red]ZZ"))
    invoke("validate", bad, exit_code=1, names=("'[red]ZZ'",))


def test_valid_dataset_under_a_bracketed_folder_name(tiny_dir, tmp_path):
    folder = tmp_path / "p[/x]"
    shutil.copytree(tiny_dir, folder)
    invoke("validate", folder, exit_code=0, names=("p[/x] is a valid",))


def test_validate_json_is_one_object_per_line_whatever_the_width(damaged):
    def several(frame):
        frame = frame.astype({"price": object, "title": object})
        frame.loc[1, "price"] = -3.0
        frame.loc[2, "price"] = "abc " * 40  # a long value: rich would wrap it at the terminal width
        frame.loc[3, "discount_rate"] = 1.7
        return frame

    bad = damaged("items", several)
    res = invoke("validate", bad, "--json", "--no-images", exit_code=1, env={"COLUMNS": "20"})
    lines = res.stdout.splitlines()
    parsed = [json.loads(line) for line in lines]  # every stdout line is JSON, nothing else there
    assert len(parsed) >= 2 and all(p["table"] == "items" for p in parsed)
    assert {"price", "discount_rate"} <= {p["column"] for p in parsed}
    ok = invoke("validate", damaged(name="fine"), "--json", "--no-images", exit_code=0)
    assert ok.stdout == ""
