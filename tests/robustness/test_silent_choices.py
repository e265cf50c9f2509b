"""Item 13: no silent choices: tables stored twice, damaged cache shards, stale temporaries, permissions,
messages that say what is really wrong, warnings shown once as one clean line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd

from culturecart.encoders.cache import EmbeddingCache, content_key
from culturecart.study.store import Unit, UnitStore
from tests.helpers import invoke


def test_a_table_stored_twice_is_an_error_naming_both(damaged):
    bad = damaged()
    pd.read_parquet(bad / "events.parquet").to_csv(bad / "events.csv", index=False)
    invoke("validate", bad, exit_code=1, names=("events.parquet", "events.csv", "stored twice"))


def test_a_damaged_cache_shard_is_skipped_and_rebuilt(tiny_dir, tmp_path):
    cache = tmp_path / "cache"
    args = ["encode", tiny_dir, "--out", tmp_path / "emb", "--text", "char-hash", "--image", "image-hash",
            "--cache", cache]
    invoke(*args, exit_code=0)
    shards = sorted(cache.rglob("*.vec.npy"))
    shards[0].write_bytes(b"\x93NUMPY garbage")
    res = invoke(*args, exit_code=0, names=("warning: 1 embedding cache shard(s)", "damaged"))
    assert "computed, the rest cached" in res.output and not shards[0].exists()
    again = invoke(*args, exit_code=0)
    assert "warning" not in again.output


def test_cache_api_rebuilds_after_damage(tmp_path):
    store = EmbeddingCache(tmp_path, "demo")
    store.put([content_key("a")], np.ones((1, 3), np.float32))
    [keys] = list(store.dir.glob("*.keys.npy"))
    keys.write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found, _ = EmbeddingCache(tmp_path, "demo").get([content_key("a")])
    assert not found.any() and any("damaged" in str(w.message) for w in caught)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_killed_writers_temporary_is_cleaned_by_the_next_run(tmp_path):
    out = tmp_path / "sim"
    stale = tmp_path / f".sim.{_dead_pid()}.abc123.tmp"
    stale.mkdir()
    (stale / "events.parquet").write_bytes(b"half")
    invoke("simulate", "--out", out, "--users", "20", "--products", "5", "--countries", "KR,US", exit_code=0)
    assert not stale.exists() and out.is_dir()


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        invoke("simulate", "--out", tmp_path / "sim", "--users", "20", "--products", "5", "--countries", "KR,US",
               exit_code=0)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "sim").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "sim" / "events.parquet").stat().st_mode) == 0o644


def test_messages_say_what_is_wrong(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    invoke("validate", afile, exit_code=1, names=("is a file, not a dataset folder",))
    invoke("validate", tmp_path / "none", exit_code=1, names=("does not exist",))


def _warn_twice() -> int:
    warnings.warn("no Hofstede profile for ['AE']", UserWarning, stacklevel=1)
    return 1


def test_unit_warnings_come_back_once(tmp_path):
    store = UnitStore(tmp_path / "units")
    units = [Unit("demo", f"u{i}", {"i": i}, _warn_twice) for i in range(3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.run(units)
    assert [str(w.message) for w in caught] == ["demo u0: no Hofstede profile for ['AE']"]  # once, naming a unit


def test_cli_warnings_are_one_clean_line(tmp_path):
    scores = tmp_path / "scores.csv"
    scores.write_text("country,pdi,idv,mas,uai,lto,ivr\nKorea South,60,18,39,85,100,29\n"
                      "United States,40,91,62,46,26,68\nArab countries,80,38,53,68,23,34\n")
    res = invoke("simulate", "--out", tmp_path / "sim", "--users", "20", "--products", "5", "--countries", "KR,US",
                 "--hofstede", scores, exit_code=0, names=("warning: ", "Arab countries"))
    assert res.output.count("Arab countries") == 1
    assert "UserWarning" not in res.output and ".py:" not in res.output
