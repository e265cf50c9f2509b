"""Events as one file or a folder events/ of Parquet files: every reader follows the same layout."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from culturecart.cli import app
from culturecart.data.dataset import Dataset
from culturecart.data.event_files import event_files, event_rows, iter_event_batches
from culturecart.data.simulate import SimulationConfig, simulate_marketplace
from culturecart.errors import InvalidInputError
from culturecart.study.keys import dataset_key

runner = CliRunner()


@pytest.fixture
def ds():
    return simulate_marketplace(SimulationConfig(n_users=30, n_products=12, countries=["KR", "US"], seed=2))


def test_a_partitioned_dataset_reads_as_the_same_table(ds, tmp_path):
    whole = ds.save(tmp_path / "whole")
    split = ds.save(tmp_path / "split", events_file_rows=100)
    files = event_files(split)
    assert len(files) == -(-len(ds.events) // 100) and not (split / "events.parquet").exists()
    pd.testing.assert_frame_equal(Dataset.load(split).events, Dataset.load(whole).events)
    assert event_rows(files) == len(ds.events)
    batches = list(iter_event_batches(files, 30))
    assert sum(len(b.frame) for b in batches) == len(ds.events) and max(len(b.frame) for b in batches) <= 30
    assert runner.invoke(app, ["validate", str(split)]).exit_code == 0


def test_nested_partitions_are_read_in_path_order_and_hidden_files_skipped(ds, tmp_path):
    root = ds.save(tmp_path / "d", events_file_rows=10_000)
    events = pd.read_parquet(root / "events" / "part-00000.parquet")
    (root / "events" / "part-00000.parquet").unlink()
    for k, country in enumerate(["KR", "US"]):
        (root / "events" / f"country={country}").mkdir()
        events.iloc[k::2].to_parquet(root / "events" / f"country={country}" / "0.parquet", index=False)
    (root / "events" / ".partial.parquet").write_bytes(b"not parquet")
    (root / "events" / "_SUCCESS.parquet").write_bytes(b"")
    got = Dataset.load(root).events
    pd.testing.assert_frame_equal(got, pd.concat([events.iloc[0::2], events.iloc[1::2]], ignore_index=True))


def test_the_events_stored_twice_or_damaged_are_named(ds, tmp_path):
    root = ds.save(tmp_path / "d", events_file_rows=200)
    ds.events.to_parquet(root / "events.parquet", index=False)
    with pytest.raises(InvalidInputError, match="stored twice"):
        Dataset.load(root)
    (root / "events.parquet").unlink()
    part = event_files(root)[1]
    part.write_bytes(part.read_bytes()[:50])
    with pytest.raises(InvalidInputError) as err:
        Dataset.load(root)
    assert part.name in str(err.value) and "truncated" in str(err.value)
    with pytest.raises(InvalidInputError) as err:
        list(iter_event_batches(event_files(root), 100))
    assert part.name in str(err.value)
    for f in event_files(root):
        f.unlink()
    with pytest.raises(InvalidInputError, match="no .parquet files"):
        Dataset.load(root)


def test_the_study_key_covers_every_events_file(ds, tmp_path):
    root = ds.save(tmp_path / "d", events_file_rows=200)
    before = dataset_key(root)
    last = event_files(root)[-1]
    frame = pd.read_parquet(last)
    frame.iloc[:-1].to_parquet(last, index=False)
    assert dataset_key(root) != before


def test_convert_writes_the_partitioned_layout(tmp_path):
    from culturecart.testing import flat_table

    flat_table(n_users=40).to_csv(tmp_path / "flat.csv", index=False)
    result = runner.invoke(app, ["convert", "table", str(tmp_path / "flat.csv"), "--out", str(tmp_path / "d"),
                                 "--label", "bought", "--item", "sku", "--user", "customer", "--time", "when",
                                 "--country", "nation", "--events-file-rows", "500", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(event_files(tmp_path / "d")) > 1 and (tmp_path / "d" / "events").is_dir()
