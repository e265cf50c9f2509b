"""Each class of bad input is reported with its table, column and row (or file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from culturecart.data import Dataset, validate_dataset, validate_table


def _messages(problems) -> list[str]:
    return [str(p) for p in problems]


def _one(problems, column: str) -> object:
    hits = [p for p in problems if p.column == column]
    assert hits, f"no problem reported for column {column}: {_messages(problems)}"
    return hits[0]


def test_valid_minimal_tables_pass():
    assert validate_table("items", pd.DataFrame({"item_id": ["a", "b"], "price": [1.0, 0.0]})) == []
    events = pd.DataFrame({"session_id": ["s"], "item_id": ["a"], "purchased": [0]})
    assert validate_table("events", events) == []


def test_missing_required_column_is_named():
    problems = validate_table("events", pd.DataFrame({"session_id": ["s"], "item_id": ["a"]}))
    p = _one(problems, "purchased")
    assert p.message == "required column is missing"


def test_uncoercible_type_names_column_and_row():
    frame = pd.DataFrame({"item_id": ["a", "b", "c"], "price": [1.0, "cheap", 3.0]})
    p = _one(validate_table("items", frame), "price")
    assert "cannot be read as" in p.message and p.rows == (1,)
    assert len(validate_table("items", frame)) == 1  # not also a dtype and a range error


def test_nan_in_required_field():
    frame = pd.DataFrame({"session_id": ["s1", None], "item_id": ["a", "a"], "purchased": [0, 1]})
    p = _one(validate_table("events", frame), "session_id")
    assert "missing value" in p.message and p.rows == (1,)


def test_negative_price():
    p = _one(validate_table("items", pd.DataFrame({"item_id": ["a", "b"], "price": [2.0, -1.0]})), "price")
    assert p.message == "must be >= 0" and p.rows == (1,) and p.values == ("-1.0",)


def test_discount_outside_unit_interval():
    frame = pd.DataFrame({"item_id": list("abc"), "discount_rate": [0.2, 1.5, -0.1]})
    p = _one(validate_table("items", frame), "discount_rate")
    assert p.message == "must lie in [0, 1]" and p.rows == (1, 2)


def test_unknown_country_code():
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "country": ["DE", "GER", None]})
    p = _one(validate_table("users", frame), "country")
    assert "ISO 3166" in p.message and p.rows == (1,) and p.values == ("'GER'",)


def test_duplicate_ids():
    p = _one(validate_table("items", pd.DataFrame({"item_id": ["a", "b", "a"]})), "item_id")
    assert "duplicate" in p.message and p.rows == (0, 2)


def test_label_not_binary():
    frame = pd.DataFrame({"session_id": ["s"] * 3, "item_id": ["a"] * 3, "purchased": [0, 2, 1]})
    p = _one(validate_table("events", frame), "purchased")
    assert "0 or 1" in p.message and p.rows == (1,)


def test_label_not_a_number():
    frame = pd.DataFrame({"session_id": ["s"] * 2, "item_id": ["a"] * 2, "purchased": [0, "yes"]})
    p = _one(validate_table("events", frame), "purchased")
    assert "cannot be read" in p.message and p.rows == (1,)


def test_events_pointing_to_unknown_users_and_items():
    ds = Dataset(
        users=pd.DataFrame({"user_id": ["u1"], "country": ["KR"]}),
        items=pd.DataFrame({"item_id": ["a"]}),
        events=pd.DataFrame({"session_id": ["s", "s"], "user_id": ["u1", "u9"], "item_id": ["zz", "a"],
                             "purchased": [0, 1]}),
    )
    problems = validate_dataset(ds)
    assert _one(problems, "user_id").rows == (1,)
    assert _one(problems, "item_id").rows == (0,)
    assert "users.user_id" in _one(problems, "user_id").message


def test_missing_and_corrupt_images(tmp_path: Path, sim_dir: Path):
    good = next((sim_dir / "images").glob("*.png"))
    shutil.copy(good, tmp_path / "ok.png")
    (tmp_path / "garbage.png").write_bytes(b"not an image at all")
    data = good.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    items = pd.DataFrame({"item_id": list("abcd"),
                          "image_path": ["ok.png", "garbage.png", "truncated.png", "absent.png"]})
    ds = Dataset(items=items, root=tmp_path)
    problems = [p for p in validate_dataset(ds) if p.column == "image_path"]
    by_row = {p.rows[0]: p for p in problems}
    assert set(by_row) == {1, 2, 3}
    assert "cannot be decoded" in by_row[1].message and by_row[1].file.endswith("garbage.png")
    assert "cannot be decoded" in by_row[2].message
    assert "does not exist" in by_row[3].message


def test_unicode_text_is_valid():
    reviews = pd.DataFrame({"item_id": ["a"] * 4, "text": ["품질이 좋아요", "品質が良い 😀", "très déçu", None]})
    ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}), reviews=reviews)
    assert validate_dataset(ds) == []


def test_dataset_without_items_is_invalid(tmp_path: Path):
    pd.DataFrame({"user_id": ["u"], "country": ["US"]}).to_csv(tmp_path / "users.csv", index=False)
    problems = validate_dataset(tmp_path)
    assert any(p.table == "items" and "no items table" in p.message for p in problems)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_csv_and_parquet(tmp_path: Path, sim_dir: Path, fmt: str):
    ds = Dataset.load(sim_dir)
    ds.items = ds.items.assign(image_path=[str(sim_dir / p) for p in ds.items["image_path"]])
    ds.reviews = ds.reviews.assign(image_path=[None if pd.isna(p) else str(sim_dir / p)
                                               for p in ds.reviews["image_path"]])
    ds.meta["image_roots"] = [str(sim_dir)]  # absolute paths outside the copy must be declared
    ds.save(tmp_path / "copy", fmt=fmt)
    assert (tmp_path / "copy" / f"events.{fmt}").exists()
    assert validate_dataset(tmp_path / "copy") == []
    back = Dataset.load(tmp_path / "copy")
    assert back.events["purchased"].sum() == ds.events["purchased"].sum()
