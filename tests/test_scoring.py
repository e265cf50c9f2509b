"""Streaming and Dask scoring (culturecart.scoring): the same scores as a whole-table run, whatever the batches,
files and partitions; validation naming file and rows; a resumable folder of scores; the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from culturecart.cli import app
from culturecart.data.dataset import Dataset
from culturecart.data.simulate import SimulationConfig, simulate_marketplace
from culturecart.errors import InvalidInputError
from culturecart.predictor import PurchasePredictor
from culturecart.scoring import iter_scores, read_scores, score_to_folder
from culturecart.testing import write_partitioned

runner = CliRunner()
FAST = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    train = simulate_marketplace(SimulationConfig(n_users=80, n_products=25, countries=["KR", "US", "DE"], seed=4))
    model = PurchasePredictor("lightgbm", encoders=FAST, n_estimators=25, embedding_dim=4).fit(train)
    folder = tmp_path_factory.mktemp("model") / "predictor"
    model.save(folder)
    return model, folder


def _scoring_data(seed: int = 5, users: int = 60) -> Dataset:
    # Seeds overlap in user ids (u0000...), so some users have stored history and some are new.
    return simulate_marketplace(SimulationConfig(n_users=users, n_products=25, countries=["KR", "US", "DE"],
                                                 seed=seed))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A dataset whose events are dealt row by row over three Parquet files of small row groups (every user's
    sessions are split over files and batches), and the same data as one events.parquet."""
    root = tmp_path_factory.mktemp("data")
    ds = _scoring_data()
    whole = ds.save(root / "whole")
    split = write_partitioned(Dataset.load(whole), root / "split", files=3, rows_per_group=17)
    return whole, split


def _streamed(model, folder, batch_rows):
    return pd.concat([b.scores for b in iter_scores(model, folder, batch_rows=batch_rows)], ignore_index=True)


def _keyed(frame):
    return frame.sort_values(["session_id", "item_id", "p_purchase"]).reset_index(drop=True)


@pytest.mark.parametrize("batch_rows", [1_000_000, 23])
def test_streamed_scores_equal_the_whole_table_run(predictor, data, batch_rows):
    model, _ = predictor
    whole, split = data
    expected = model.score(whole)
    assert expected["p_purchase"].std() > 0
    # Same files in the same order: the same rows, bit for bit.
    pd.testing.assert_frame_equal(_streamed(model, whole, batch_rows), expected)
    # Split into files and batches that cut through users and sessions: the same score for every event.
    streamed = _streamed(model, split, batch_rows)
    pd.testing.assert_frame_equal(_keyed(streamed), _keyed(expected))
    pd.testing.assert_frame_equal(streamed, model.score(split))  # the folder read whole, in path order


def test_history_uses_every_file_not_only_the_batch(predictor, data):
    model, _ = predictor
    _, split = data
    featurizer = model.featurizer_
    assert featurizer.history_
    events = Dataset.load(split).events
    whole = featurizer.history_for(events)
    # A user's earlier sessions sit in other files: history computed per file alone would differ.
    per_file = [featurizer.history_for(events.iloc[k::3].reset_index(drop=True)) for k in range(3)]
    assert not np.allclose(np.concatenate([p["user_prior_sessions"] for p in per_file]),
                           np.concatenate([whole.iloc[k::3]["user_prior_sessions"] for k in range(3)]))


def test_a_missing_timestamp_gives_unknown_history_everywhere_as_in_the_whole_table(predictor, tmp_path):
    model, _ = predictor
    ds = _scoring_data(seed=6, users=30)
    ds.events["timestamp"] = ds.events["timestamp"].astype("datetime64[ns]")
    ds.events.loc[5, "timestamp"] = pd.NaT
    split = write_partitioned(ds, tmp_path / "d", files=2, rows_per_group=10)
    expected = model.score(split)
    pd.testing.assert_frame_equal(_streamed(model, split, 13), expected)


def test_a_bad_batch_names_its_file_and_rows(predictor, tmp_path):
    model, _ = predictor
    ds = _scoring_data(seed=7, users=20)
    split = write_partitioned(ds, tmp_path / "d", files=2)
    part = split / "events" / "part-1.parquet"
    events = pd.read_parquet(part)
    events.loc[[3, 11], "item_id"] = "no-such-item"
    events.to_parquet(part, index=False)
    with pytest.raises(InvalidInputError) as err:
        list(iter_scores(model, split, batch_rows=5))
    text = str(err.value)
    assert "part-1.parquet" in text and "rows 3, 11" in text and "no-such-item" in text


def test_a_folder_of_scores_is_written_whole_and_resumes_after_an_interruption(predictor, data, tmp_path):
    model, _ = predictor
    _, split = data
    out = tmp_path / "scores"
    first_file = len(pd.read_parquet(split / "events" / "part-0.parquet"))
    done = []

    def stop_in_second_file(rows, total):
        done.append(rows)
        if sum(done) > first_file:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_to_folder(model, split, out, batch_rows=20, progress=stop_in_second_file)
    assert not out.exists()  # nothing published half-done
    partial = tmp_path / ".scores.partial"
    kept = json.loads((partial / "manifest.json").read_text())["parts"]
    assert [p["part"] for p in kept] == ["part-00000.parquet"]
    resumed = []
    manifest = score_to_folder(model, split, out, batch_rows=20, progress=lambda r, t: resumed.append(r))
    assert resumed[0] == kept[0]["rows"]  # the first file was not scored again
    assert manifest["complete"] and [p["input"].rsplit("/", 1)[1] for p in manifest["parts"]] == [
        "part-0.parquet", "part-1.parquet", "part-2.parquet"]
    pd.testing.assert_frame_equal(read_scores(out), model.score(split))
    assert not partial.exists()


def test_a_changed_input_starts_the_scores_over(predictor, tmp_path):
    model, _ = predictor
    split = write_partitioned(_scoring_data(seed=8, users=20), tmp_path / "d", files=2)
    out = tmp_path / "scores"
    with pytest.raises(KeyboardInterrupt):
        score_to_folder(model, split, out, batch_rows=1_000_000,
                        progress=lambda r, t: (_ for _ in ()).throw(KeyboardInterrupt) if r else None)
    events = pd.read_parquet(split / "events" / "part-1.parquet")
    events.iloc[:4].to_parquet(split / "events" / "part-1.parquet", index=False)
    score_to_folder(model, split, out, batch_rows=1_000_000)
    pd.testing.assert_frame_equal(read_scores(out), model.score(split))


def test_predict_command_streams_into_a_file_or_a_folder(predictor, data, tmp_path):
    model, folder = predictor
    _, split = data
    expected = model.score(split)
    for name in ("scores.parquet", "scores.csv", "scores"):
        target = tmp_path / name
        result = runner.invoke(app, ["predict", str(split), "--model-dir", str(folder), "--out", str(target),
                                     "--batch-rows", "40", "--quiet"])
        assert result.exit_code == 0, result.output
        got = read_scores(target) if name == "scores" else (
            pd.read_csv(target, dtype=str).astype({"p_purchase": float}) if name.endswith(".csv")
            else pd.read_parquet(target))
        np.testing.assert_allclose(got["p_purchase"].to_numpy(), expected["p_purchase"].to_numpy(), rtol=1e-12)
    result = runner.invoke(app, ["predict", str(split), "--model-dir", str(folder), "--out", str(tmp_path / "s"),
                                 "--evaluate", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert metrics["rows"] == len(expected) and 0.5 < metrics["auc"] <= 1
    again = runner.invoke(app, ["predict", str(split), "--model-dir", str(folder), "--out", str(tmp_path / "scores"),
                                "--quiet"])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_predict_refuses_an_output_suffix_it_cannot_write(predictor, data, tmp_path):
    _, folder = predictor
    result = runner.invoke(app, ["predict", str(data[1]), "--model-dir", str(folder), "--out",
                                 str(tmp_path / "scores.txt")])
    assert result.exit_code == 2 and ".parquet or .csv" in result.output


@pytest.mark.slow
def test_dask_scores_on_a_local_cluster_equal_the_local_run(predictor, data, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    model, folder = predictor
    _, split = data
    expected = model.score(split)
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
          as cluster, distributed.Client(cluster)):
        events = dd.read_parquet(sorted(str(p) for p in (split / "events").glob("*.parquet")))
        got = model.predict_dask(events, split).compute().reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
        result = runner.invoke(app, ["predict", str(split), "--model-dir", str(folder), "--out",
                                     str(tmp_path / "dask-scores"), "--address", cluster.scheduler_address,
                                     "--quiet"])
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(read_scores(tmp_path / "dask-scores"), expected)
