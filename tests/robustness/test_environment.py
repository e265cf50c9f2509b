"""Hardening II, 7, 8, 9 and 16: the machine fails, not the input. A folder that cannot be written (read-only mount,
/proc) and a full disk (a real small tmpfs: ENOSPC reaches Arrow's and NumPy's writers from the OS) are exit code 4
naming the folder, found before the work where possible, with nothing half-written; a damaged embedding cache is
repaired with one warning or refused naming CULTURECART_CACHE; local workers die with their driver."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import invoke

FAST = "encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n"


@pytest.fixture
def mount(tmp_path):
    """``mount(size, readonly)``: a real tmpfs of ``size`` bytes (root only; skipped elsewhere), unmounted after."""
    made = []

    def make(size: str = "64k", readonly: bool = False) -> Path:
        target = tmp_path / f"mnt{len(made)}"
        target.mkdir()
        options = f"size={size}" + (",ro" if readonly else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (not root?): {done.stderr.decode().strip()}")
        made.append(target)
        return target

    yield make
    for target in made:
        subprocess.run(["umount", str(target)], capture_output=True)


@pytest.fixture(scope="module")
def model(tiny_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    cfg = folder / "fast.yaml"
    cfg.write_text(FAST)
    invoke("fit", tiny_dir, "--config", cfg, "--out", folder / "m", exit_code=0)
    return folder / "m"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith("."))


def test_an_unwritable_output_is_found_before_the_work(tiny_dir, model, mount, tmp_path):
    readonly = mount(readonly=True)
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(FAST)
    started = time.perf_counter()
    for args in (("predict", tiny_dir, "--model-dir", model, "--out", readonly / "s.csv"),
                 ("predict", tiny_dir, "--model-dir", model, "--out", "/proc/scores.csv"),
                 ("fit", tiny_dir, "--config", cfg, "--out", readonly / "m"),
                 ("study", "--preset", "twin-small", "--out", readonly / "run"),
                 ("xmarket", "split", tiny_dir, "--out", readonly / "xm")):
        invoke(*args, exit_code=4, names=("cannot write in",))
    assert time.perf_counter() - started < 30  # refused at once, not after the work


def test_a_full_disk_is_exit_4_naming_the_folder_with_nothing_half_written(tiny_dir, model, mount, tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(FAST)
    full = mount("4k")
    for args, name in ((("predict", tiny_dir, "--model-dir", model, "--out", full / "scores.parquet"), "scores"),
                       (("fit", tiny_dir, "--config", cfg, "--out", full / "m"), "m")):
        res = invoke(*args, exit_code=4, names=("No space left on device", str(full)))
        assert "a bug" not in res.output and _leftovers(full) == [], res.output
        assert not (full / name).exists() or name == "m" and not any((full / name).iterdir())
    study = mount("256k")
    res = invoke("study", "--preset", "twin-small", "--set", "rq1.models=[lightgbm]", "--out", study / "run",
                 exit_code=4, names=("No space left on device",))
    assert "a bug" not in res.output and [n for n in _leftovers(study) if n.endswith(".tmp")] == []


def test_a_cache_that_is_a_file_is_refused_naming_the_variable(tiny_dir, tmp_path):
    (tmp_path / "cache-file").write_text("not a folder")
    invoke("encode", tiny_dir, "--text", "char-hash", "--image", "image-hash", "--out", tmp_path / "e",
           env={"CULTURECART_CACHE": str(tmp_path / "cache-file")}, exit_code=2, names=("CULTURECART_CACHE",))


def test_a_read_only_cache_encodes_without_storing_with_one_warning(tiny_dir, mount, tmp_path):
    cache = mount(readonly=True)
    res = invoke("encode", tiny_dir, "--text", "char-hash", "--image", "image-hash", "--out", tmp_path / "e",
                 env={"CULTURECART_CACHE": str(cache)}, exit_code=0, names=("cannot be written",))
    assert res.output.count("cannot be written") <= 2  # once per encoder's cache folder, never per batch


def test_damaged_cache_shards_are_removed_and_encoded_again_with_one_warning(tiny_dir, tmp_path):
    cache = tmp_path / "cache"
    args = ("encode", tiny_dir, "--text", "char-hash", "--image", "image-hash", "--out", tmp_path / "e")
    invoke(*args, env={"CULTURECART_CACHE": str(cache)}, exit_code=0)
    text_dir = next(cache.glob("embeddings/char-hash*"))
    shards = sorted(text_dir.glob("*.vec.npy"))
    shards[0].unlink()
    shards[0].mkdir()  # a folder where a shard file belongs
    if len(shards) > 1:
        np.save(shards[1], np.zeros((len(np.load(shards[1])), 3), np.float32))  # vectors of another width
    res = invoke(*args[:-2], "--out", tmp_path / "e2", env={"CULTURECART_CACHE": str(cache)}, exit_code=0)
    assert res.output.count("were damaged and are removed") == 1
    assert not shards[0].is_dir()
    again = invoke(*args[:-2], "--out", tmp_path / "e3", env={"CULTURECART_CACHE": str(cache)}, exit_code=0)
    assert "were damaged" not in again.output


@pytest.mark.slow
def test_workers_exit_soon_after_their_driver_is_killed(tmp_path):
    """SIGKILL the study's driver only: its loky workers notice within seconds and exit (before: minutes)."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "culturecart.cli", "study", "--preset", "twin-small", "--out",
                             str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline, workers = time.time() + 120, []
    while time.time() < deadline and not workers:
        time.sleep(0.5)
        workers = _children(proc.pid)
    assert workers, "the study started no workers"
    while time.time() < deadline and not list((out / "units").glob("*")):
        time.sleep(0.5)  # at work
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.time()
    while time.time() - killed < 15 and any(_alive(w) for w in workers):
        time.sleep(0.5)
    alive = [w for w in workers if _alive(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert alive == [] and time.time() - killed < 12


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "loky" in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_a_shared_cache_copy_with_damage_is_per_file_not_all_or_nothing(tiny_dir, tmp_path):
    cache = tmp_path / "cache"
    invoke("encode", tiny_dir, "--text", "char-hash", "--image", "image-hash", "--out", tmp_path / "e",
           env={"CULTURECART_CACHE": str(cache)}, exit_code=0)
    copy = tmp_path / "copy"
    shutil.copytree(cache, copy)
    keys = next(copy.glob("embeddings/image-hash*/*.keys.npy"))
    keys.write_bytes(keys.read_bytes()[:20])
    res = invoke("encode", tiny_dir, "--text", "char-hash", "--image", "image-hash", "--out", tmp_path / "e2",
                 env={"CULTURECART_CACHE": str(copy)}, exit_code=0, names=("damaged",))
    assert "char-hash" not in res.output.split("damaged")[0].splitlines()[-1]  # the text cache was not touched


@pytest.mark.slow
def test_sigterm_stops_a_study_like_ctrl_c_and_it_resumes(tmp_path):
    """`timeout` or a batch system sends SIGTERM: the same orderly stop as Ctrl-C (exit 143, one clean line, no
    leaked-resource or cancelled-task warnings), and the rerun reuses what finished."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "culturecart.cli", "study", "--preset", "twin-small", "--out", str(out),
           "--set", "calibration=0", "--set", "matching.enabled=false"]  # calibration: this test is about stopping
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "units").glob("*"))) < 5:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not any(w in err for w in ("leaked", "resource_tracker", "UserWarning", "semlock")), err[-2000:]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(re.search(r"(\d+) reused", done.stderr).group(1)) >= 1
