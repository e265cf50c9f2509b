"""The official WSDM Cup 2022 files as published: ``train*.tsv`` and ``*_qrel.tsv`` with a header line, the
``*_run.tsv`` candidate lists without one. Fitted and scored as they are."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from culturecart.ranking.markets import read_markets, read_run
from tests.helpers import invoke

DATA = Path(os.environ.get("CULTURECART_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def write_official(root: Path, seed: int = 0) -> Path:
    """Two markets in the official layout and id style (``s1U...``, ``P...``): s1 a source, t1 a target with a
    validation qrel and headerless validation and test runs of 20 candidates."""
    rng = np.random.default_rng(seed)
    items = [f"P{1000000 + i}" for i in range(60)]
    for market, users in (("s1", 40), ("t1", 30)):
        folder = root / market
        folder.mkdir(parents=True)
        train, qrel, valid_run, test_run = ["userId\titemId\trating"], ["userId\titemId\trating"], [], []
        for u in range(users):
            user = f"{market}U{1000000 + u}"
            liked = rng.choice(items[:30] if u % 2 else items[30:], size=6, replace=False)
            train += [f"{user}\t{i}\t{float(rng.integers(1, 6))}" for i in liked[:5]]
            if market == "t1":
                qrel.append(f"{user}\t{liked[5]}\t1")
                others = [i for i in items if i not in liked]
                valid_run.append(f"{user}\t" + ",".join([liked[5], *rng.choice(others, 19, replace=False)]))
                test_run.append(f"{user}\t" + ",".join(rng.choice(others, 20, replace=False)))
        (folder / "train.tsv").write_text("\n".join(train) + "\n")
        if market == "t1":
            (folder / "valid_qrel.tsv").write_text("\n".join(qrel) + "\n")
            (folder / "valid_run.tsv").write_text("\n".join(valid_run) + "\n")
            (folder / "test_run.tsv").write_text("\n".join(test_run) + "\n")
    return root


def test_headerless_runs_are_read_as_the_official_files_are(tmp_path):
    root = write_official(tmp_path / "official")
    assert not (root / "t1" / "valid_run.tsv").read_text().startswith("userId")
    markets = read_markets(root)
    assert markets.targets("valid") == ["t1"] and markets.targets("test") == ["t1"]
    run = read_run(root / "t1" / "test_run.tsv")
    assert len(run) == 30 and run["userId"].iloc[0] == "t1U1000000"  # the first line is a user, not a header


def test_fit_predict_score_on_the_official_form(tmp_path):
    root = write_official(tmp_path / "official")
    invoke("xmarket", "fit", root, "--target", "t1", "--sources", "s1", "--model", "itemknn", "--model-dir",
           tmp_path / "m", exit_code=0)
    invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "t1" / "valid_run.tsv", "--out",
           tmp_path / "valid.tsv", exit_code=0)
    res = invoke("xmarket", "score", "--scores", tmp_path / "valid.tsv", "--qrel", root / "t1" / "valid_qrel.tsv",
                 exit_code=0)
    assert json.loads(res.stdout.strip().splitlines()[-1])["users"] == 30
    invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "t1" / "test_run.tsv", "--out",
           tmp_path / "test.tsv", exit_code=0)
    assert len((tmp_path / "test.tsv").read_text().splitlines()) == 1 + 30 * 20
    for run in ("valid", "test"):  # the competition's submission layout
        invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "t1" / f"{run}_run.tsv", "--out",
               tmp_path / "submission", "--competition", exit_code=0)
    written = sorted(p.relative_to(tmp_path / "submission").as_posix() for p in (tmp_path / "submission").rglob("*.tsv"))
    assert written == ["t1/test_pred.tsv", "t1/valid_pred.tsv"]
    assert (tmp_path / "submission" / "t1" / "test_pred.tsv").read_text() == (tmp_path / "test.tsv").read_text()


def test_a_misnamed_header_is_still_refused(tmp_path):
    root = write_official(tmp_path / "official")
    run = root / "t1" / "valid_run.tsv"
    run.write_text("user\titems\n" + run.read_text())
    invoke("xmarket", "predict", "--model-dir", tmp_path / "none", "--run", run, "--out", tmp_path / "s.tsv",
           exit_code=1)
    with pytest.raises(Exception, match="header must start with"):
        read_run(run)


def test_the_real_headerless_run_of_market_s3():
    path = DATA / "xmrec_wsdm_dev" / "s3" / "valid_run.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent (set CULTURECART_DATA to the shared data folder)")
    run = read_run(path)
    assert len(run) == 3328 and run["userId"].str.startswith("s3U").all()


def test_train_and_5core_are_merged_when_they_differ(tmp_path):
    root = write_official(tmp_path / "official")
    explicit = (root / "t1" / "train.tsv").read_text().splitlines()
    header, rows = explicit[0], explicit[1:]
    core = ["userId\titemId\trating"] + [f"{r.split(chr(9))[0]}\t{r.split(chr(9))[1]}\t1.0" for r in rows[:40]] + [
        "t1U1000000\tP1000059\t1.0", "t1U9999999\tP1000058\t1.0"]  # two pairs only the 5-core has
    (root / "t1" / "train_5core.tsv").write_text("\n".join(core) + "\n")
    (root / "t1" / "train.tsv").write_text("\n".join([header, *rows, rows[0]]) + "\n")  # a duplicate pair, as published
    train = read_markets(root)["t1"].train
    assert len(train) == len(rows) + 2 and not train.duplicated(["userId", "itemId"]).any()
    assert int(train["implicit"].sum()) == 2 and int(train["core"].sum()) == 42
    kept = train.set_index(["userId", "itemId"])
    first = rows[0].split("\t")
    assert kept.loc[(first[0], first[1]), "rating"] == float(first[2])  # the explicit rating, not the 5-core's 1.0
    assert set(read_markets(root)["t1"].core_items) == set(train.loc[train["core"], "itemId"])
