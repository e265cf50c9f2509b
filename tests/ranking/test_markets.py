"""The markets layout: the leave-one-out split, reading back, and every bad input named."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from culturecart.errors import InvalidInputError
from culturecart.ranking.markets import country_of, read_markets, split_markets, write_markets


def test_split_is_leave_one_out_by_date_then_file_order(tmp_path):
    lines = ["userId itemId rate date", "u1 a 5 2020-01-01", "u1 b 4 2020-01-03", "u1 c 3 2020-01-03",
             "u1 d 2 2020-01-02", "u1 e 5 2020-01-01"] + [f"x{k} {i} 5 2020-01-0{k + 1}" for k in range(3)
                                                           for i in "abcdefgh"]
    with gzip.open(tmp_path / "zz_5core.txt.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    m = split_markets(tmp_path, negatives=3, seed=0)["zz"]
    qrel = {run: m.qrels[run].set_index("userId")["itemId"] for run in ("valid", "test")}
    # b and c share the last date: the later row in the file (c) is the test item, b the validation item.
    assert qrel["test"]["u1"] == "c" and qrel["valid"]["u1"] == "b"
    assert sorted(m.train[m.train["userId"] == "u1"]["itemId"]) == ["a", "d", "e"]
    run = m.runs["test"].set_index("userId")["candidates"]["u1"]
    assert "c" in run and len(run) == 4 and not {"a", "b", "d", "e"} & (set(run) - {"c"})  # negatives never rated


def test_split_is_reproducible_and_round_trips(rating_dir, tmp_path):
    a, b = split_markets(rating_dir, seed=3), split_markets(rating_dir, seed=3)
    other = split_markets(rating_dir, seed=4)
    assert a["de"].runs["test"]["candidates"].tolist() == b["de"].runs["test"]["candidates"].tolist()
    assert a["de"].runs["test"]["candidates"].tolist() != other["de"].runs["test"]["candidates"].tolist()
    assert a["de"].train.equals(other["de"].train)  # the seed only changes the negatives
    write_markets(a, tmp_path / "root")
    back = read_markets(tmp_path / "root")
    assert back.names == ["de", "fr", "uk"] and back.targets() == ["de", "fr", "uk"]
    assert back["fr"].runs["valid"]["candidates"].tolist() == a["fr"].runs["valid"]["candidates"].tolist()
    np.testing.assert_array_equal(back["uk"].train["rating"], a["uk"].train["rating"])


def test_market_codes_map_to_countries():
    assert [country_of(m) for m in ("uk", "de", "jp", "in", "mx", "zz9")] == ["GB", "DE", "JP", "IN", "MX", None]


def _root(tmp_path, rating_dir):
    write_markets(split_markets(rating_dir, seed=0), tmp_path / "root")
    return tmp_path / "root"


def test_bad_layouts_are_named(tmp_path, rating_dir):
    root = _root(tmp_path, rating_dir)
    (root / "empty").mkdir()
    train = root / "fr" / "train.tsv"
    text = train.read_text().splitlines()
    text[3] = text[3].rsplit("\t", 2)[0] + "\tfive\t" + text[3].rsplit("\t", 1)[1]
    text[5] = text[5].replace("\t", " ")
    train.write_text("\n".join(text) + "\n")
    run = root / "de" / "test_run.tsv"
    lines = run.read_text().splitlines()
    first = lines[1].split("\t")
    lines[1] = first[0] + "\t" + first[1] + "," + first[1].split(",")[0]
    run.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError) as info:
        read_markets(root)
    text = str(info.value)
    assert "empty: market folder has no training data" in text
    assert "fr: lines [6] do not have 4 tab-separated fields" in text and "train.tsv" in text
    assert "de.itemIds: duplicate candidates" in text and "test_run.tsv" in text


def test_non_numeric_rating_names_the_row(tmp_path, rating_dir):
    root = _root(tmp_path, rating_dir)
    train = root / "uk" / "train.tsv"
    frame = pd.read_csv(train, sep="\t", dtype=str)
    frame.loc[4, "rating"] = "five"
    frame.to_csv(train, sep="\t", index=False)
    with pytest.raises(InvalidInputError, match=r"uk\.rating: rating must be a number; row 4; value 'five'"):
        read_markets(root)
