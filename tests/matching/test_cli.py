import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from culturecart.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def fitted(sim_dir, tmp_path_factory):
    model = tmp_path_factory.mktemp("match") / "model"
    train = sim_dir / "matching" / "shopee.csv"
    res = runner.invoke(app, ["match", "fit", "--train", str(train), "--model-dir", str(model), "--text", "char-hash",
                              "--images", str(sim_dir / "images")])
    assert res.exit_code == 0, res.output
    steps = [line for line in res.stderr.splitlines() if line.startswith("match fit: ")]
    assert steps[0].startswith("match fit: 1/7 inner fold 1/3 ready") and steps[-1].startswith("match fit: 7/7 written")
    assert {"matching.json", "pair_scorer.json", "pair_scorer.txt", "arcface.safetensors"} <= {
        f.name for f in model.iterdir()}  # the default steps end with the pair scorer
    return model


def test_fit_predict_score_round_trip(fitted, sim_dir, tmp_path):
    data = sim_dir / "matching" / "shopee.csv"
    sub = tmp_path / "submission.csv"
    res = runner.invoke(app, ["match", "predict", "--model-dir", str(fitted), "--input", str(data), "--out", str(sub),
                              "--images", str(sim_dir / "images")])
    assert res.exit_code == 0, res.output
    assert [line.split(" ")[2] for line in res.stderr.splitlines() if line.startswith("match predict:")] == [
        "1/3", "2/3", "3/3"]  # progress on stderr, one line per step when stderr is not a terminal
    assert "match predict" not in res.stdout
    frame = pd.read_csv(sub, dtype=str)
    listings = pd.read_csv(data, dtype=str)
    assert list(frame.columns) == ["posting_id", "matches"] and len(frame) == len(listings)
    lists = frame["matches"].str.split()
    assert all(p in m for p, m in zip(frame["posting_id"], lists, strict=True))  # itself included
    assert lists.str.len().max() <= 50
    score = runner.invoke(app, ["match", "score", "--input", str(data), "--submission", str(sub)])
    assert score.exit_code == 0
    result = json.loads(score.output.strip().splitlines()[-1])
    assert result["rows"] == len(listings) and 0.5 < result["f1"] <= 1.0


def test_predict_never_reads_labels_and_handles_odd_rows(fitted, sim_dir, tmp_path):
    listings = pd.read_csv(sim_dir / "matching" / "shopee.csv", dtype=str).drop(columns=["label_group"])
    odd = listings.head(40).copy()
    odd.loc[0, "title"] = ""  # empty title: matched through the image side only
    odd.loc[1, "title"] = "Kaos polos \\xc3\\x89dition sp\\xc3\\xa9ciale"  # escaped bytes as in the real data
    odd.loc[2, "image"] = "missing-file.png"  # missing image file: falls back to its phash
    path = tmp_path / "odd.csv"
    odd.to_csv(path, index=False)
    sub = tmp_path / "sub.csv"
    res = runner.invoke(app, ["match", "predict", "--model-dir", str(fitted), "--input", str(path), "--out", str(sub),
                              "--images", str(sim_dir / "images")])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(sub)) == 40
    one = tmp_path / "one.csv"
    listings.head(1).to_csv(one, index=False)
    res = runner.invoke(app, ["match", "predict", "--model-dir", str(fitted), "--input", str(one), "--out", str(sub)])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(sub, dtype=str)["matches"].tolist() == [listings["posting_id"].iat[0]]


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(posting_id=["dup"] * 2 + f["posting_id"].tolist()[2:]), "duplicate posting_id"),
    (lambda f: f.assign(image_phash=["zz"] + f["image_phash"].tolist()[1:]), "16 hex digits"),
])
def test_bad_listings_get_a_clear_error(fitted, sim_dir, tmp_path, change, message):
    listings = pd.read_csv(sim_dir / "matching" / "shopee.csv", dtype=str).head(10)
    path = tmp_path / "bad.csv"
    change(listings).to_csv(path, index=False)
    res = runner.invoke(app, ["match", "predict", "--model-dir", str(fitted), "--input", str(path), "--out",
                              str(tmp_path / "s.csv")])
    assert res.exit_code == 1 and message in res.output


def test_fit_needs_labels_and_predict_needs_a_model(sim_dir, tmp_path):
    listings = pd.read_csv(sim_dir / "matching" / "shopee.csv", dtype=str).drop(columns=["label_group"])
    path = tmp_path / "nolabels.csv"
    listings.to_csv(path, index=False)
    res = runner.invoke(app, ["match", "fit", "--train", str(path), "--model-dir", str(tmp_path / "m")])
    assert res.exit_code == 1 and "label_group" in res.output
    res = runner.invoke(app, ["match", "predict", "--model-dir", str(tmp_path / "none"), "--input", str(path),
                              "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_a_model_saved_before_the_pair_scorer_loads_without_it(fitted, tmp_path):
    import shutil

    from culturecart.matching.model import MatchingModel

    old = tmp_path / "old"
    shutil.copytree(fitted, old)
    header = json.loads((old / "matching.json").read_text())
    config = header["config"]
    del config["steps"]["pair_model"]  # matching.json before the pair scorer and the persistence contract
    (old / "matching.json").write_text(json.dumps({"config": config, "thresholds": header["state"]["thresholds"]}))
    for name in ("pair_scorer.json", "pair_scorer.txt"):
        (old / name).unlink()
    model = MatchingModel.load(old)
    assert model.config.steps.pair_model is False and model.scorer_ is None
    assert MatchingModel.load(fitted).config.steps.pair_model is True
