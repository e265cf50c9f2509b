"""A resumed study never reuses a stale unit: changing a ``.csv.gz`` table, an image, the matching input or the
Hofstede file between two runs into one folder recomputes the units that read it (and only those), also when the
new file keeps the old one's modification time (``cp -p``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from culturecart.data.hofstede import shipped_hofstede
from culturecart.data.simulate import SimulationConfig, write_marketplace
from culturecart.study.config import load_config
from culturecart.study.keys import code_version, dataset_key
from culturecart.study.run import run_study

pytestmark = pytest.mark.slow


def _same_times(path: Path, like: os.stat_result) -> None:
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))


def _replace_keeping_times(path: Path, data: bytes) -> None:
    """``cp -p`` of another file over ``path``: new bytes, the old modification time."""
    before = path.stat()
    other = path.with_name(path.name + ".new")
    other.write_bytes(data)
    shutil.copy2(other, path)  # copies the bytes and the other file's times...
    other.unlink()
    _same_times(path, before)  # ...which are then set back to the old ones
    assert path.stat().st_mtime_ns == before.st_mtime_ns


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    data = root / "data"
    write_marketplace(data, SimulationConfig(n_users=60, n_products=40, countries=["KR", "US", "DE"], seed=5))
    events = pd.read_parquet(data / "events.parquet")
    (data / "events.parquet").unlink()
    events.to_csv(data / "events.csv.gz", index=False)  # a table of the other extension
    matching = root / "listings.csv"
    shutil.copy(data / "matching" / "shopee.csv", matching)
    hofstede = root / "hofstede.csv"
    shipped_hofstede().loc[["KR", "US", "DE"]].rename_axis("iso2").reset_index().to_csv(hofstede, index=False)
    overrides = [f"data.path={data}", "encoders.text.name=char-hash", "encoders.image.name=image-hash",
                 "embedding_dim=4", "rq1.models=[logistic]", "rq1.extra=[]", "rq1.subsets=full", "rq1.n_boot=10",
                 "rq2.enabled=false", "rq3.scopes=[global,culture]", "rq3.n_boot=10", "rq3.min_test_rows=5",
                 "rq4.enabled=false", "rq5.enabled=false", "matching.enabled=true", "matching.folds=2",
                 f"matching.input={matching}", f"culture.hofstede_path={hofstede}", "parallel.n_jobs=1"]
    return {"data": data, "matching": matching, "hofstede": hofstede, "cfg": load_config(overrides=overrides)}


def _units(res) -> dict[str, int]:
    return {"computed": res.units_computed, "reused": res.units_reused}


def _stages(out: Path) -> set[str]:
    """The stages of the units computed in the last run (timings.json lists them)."""
    import json

    return {u["stage"] for u in json.loads((out / "timings.json").read_text())} if (out / "timings.json").exists() \
        else set()


def test_changed_inputs_recompute_the_units_that_read_them(setting, tmp_path):
    out = tmp_path / "run"
    first = run_study(setting["cfg"], out, quiet=True)
    total = first.units_computed
    assert total >= 5 and first.units_reused == 0
    (out / "timings.json").unlink()
    assert _units(run_study(setting["cfg"], out, quiet=True)) == {"computed": 0, "reused": total}

    # The matching input, same modification time: only the matching folds.
    listings = setting["matching"]
    frame = pd.read_csv(listings)
    frame.loc[0, "title"] = frame.loc[0, "title"] + " NEW"
    _replace_keeping_times(listings, frame.to_csv(index=False).encode())
    res = run_study(setting["cfg"], out, quiet=True)
    assert _stages(out) == {"matching"} and res.units_reused == total - res.units_computed > 0

    # The Hofstede file: the culture scope's fit and what scores it; the global fit and RQ1 stay.
    hof = setting["hofstede"]
    table = pd.read_csv(hof)
    table.loc[table["iso2"] == "DE", "idv"] = 12
    _replace_keeping_times(hof, table.to_csv(index=False).encode())
    res = run_study(setting["cfg"], out, quiet=True)
    assert _stages(out) == {"rq3"} and res.units_computed == 2, _stages(out)  # the culture fit and the scoring

    # One image of the dataset (a sub-folder), same time: every unit that reads the data, not the matching folds.
    image = sorted((setting["data"] / "images").glob("*.png"))[0]
    other = sorted((setting["data"] / "images").glob("*.png"))[1].read_bytes()
    _replace_keeping_times(image, other)
    res = run_study(setting["cfg"], out, quiet=True)
    assert "matching" not in _stages(out) and {"rq1", "rq3"} <= _stages(out)

    # A .csv.gz table, same time: the same.
    table_file = setting["data"] / "events.csv.gz"
    events = pd.read_csv(table_file)
    events.loc[events.index[:5], "purchased"] = 1 - events.loc[events.index[:5], "purchased"]
    before = table_file.stat()
    events.to_csv(table_file, index=False)
    _same_times(table_file, before)
    res = run_study(setting["cfg"], out, quiet=True)
    assert "matching" not in _stages(out) and {"rq1", "rq3"} <= _stages(out)


def test_the_dataset_key_reads_every_file_by_content(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"one")
    (tmp_path / "events.csv.gz").write_bytes(b"x")
    before = dataset_key(tmp_path)
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "items.title.npz").write_bytes(b"derived")  # culturecart encode's output: ignored
    (tmp_path / ".events.csv.gz.123.tmp").write_bytes(b"half")  # a temporary: ignored
    assert dataset_key(tmp_path) == before
    stat = (tmp_path / "images" / "a.png").stat()
    (tmp_path / "images" / "a.png").write_bytes(b"two")
    _same_times(tmp_path / "images" / "a.png", stat)
    assert dataset_key(tmp_path) != before


def test_the_code_version_follows_the_units_code():
    from culturecart.study import units
    from culturecart.study.keys import _module_closure

    reached = dict(_module_closure(units.fit_and_score.__module__))
    # what a unit runs, through imports at module level and inside functions
    assert {"culturecart.study.units", "culturecart.culture.scopes", "culturecart.models.tabular"} <= set(reached) \
        or "culturecart.models.registry" in reached
    assert code_version(units.fit_and_score) == code_version(units.fit_and_score)
    assert len(code_version(units.fit_and_score)) == 16
