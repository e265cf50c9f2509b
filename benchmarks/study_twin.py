"""The main command end to end: `culturecart study --preset twin`, timed, then a kill-and-resume run.

1. A clean run into a fresh folder (seconds, peak RSS of the study process, units computed), its conclusions
   compared with the reference run recorded before the speed work (``reference/study_twin.json``: best
   model and modality set, every RQ1 AUC inside its reference CI, RQ3 winners, RQ4 verdicts; see
   ``study_conclusions.py``): ``conclusions_equal`` and ``differences``; ``idle_core_seconds`` (from
   ``/proc/stat``) and ``busy_share``: how many core-seconds the run left unused, and the share of the machine's
   cores it kept busy (near 1: the run is bound by its compute, not by waiting).
2. The same command into a second folder, killed (SIGKILL) once ``--kill-after`` RQ1 units are stored, then
   rerun to completion; ``resumed_identical`` is true when its results.parquet equals the clean run's.
3. With ``--rerun-reference``: the reference commit's own code (the reference file's ``commit``, checked out in a
   temporary git worktree and run with this interpreter) on this machine, right after the clean run. Machines
   differ by 20% and more from day to day (this 2-core VM included), so a time is only comparable with one
   taken on the same machine: ``reference_seconds_here``, ``speedup_here`` and ``seconds_at_reference_speed``
   (this run's time scaled to the machine that took ``seconds_baseline`` for the reference), and
   ``conclusions_equal_here``: this run's conclusions against the reference code's in the same environment
   (the installed packages move non-significant near-ties, e.g. an RQ3 winner 0.0001 AUC ahead), and
   ``reference_differences_here``: the reference code's own run here against its recorded conclusions, which
   shows what the machine and packages alone move.
Every run starts with an empty user cache, as on a fresh machine (see ``fresh_cache``).
Usage: python benchmarks/study_twin.py [--preset twin] [--kill-after 12] [--resume-preset twin-small]
       [--rerun-reference] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _measure import emit, idle_core_seconds
from study_conclusions import conclusions, differences

REFERENCE = Path(__file__).parent / "reference" / "study_twin.json"


def fresh_cache(root: Path) -> None:
    """Run the studies with an empty user cache (``CULTURECART_CACHE``), as on a fresh machine: the encoders'
    one-time ONNX export and every embedding are computed in the timed run."""
    os.environ["CULTURECART_CACHE"] = str(root / "user-cache")


def rerun_reference(commit: str, root: Path) -> tuple[float, Path]:
    """Seconds of the main command at ``commit`` on this machine (its source from a temporary git worktree), and
    the folder it wrote."""
    repo = Path(__file__).resolve().parent.parent
    tree = root / "reference-tree"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit], check=True,
                   capture_output=True)
    try:
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}  # before the installed (editable) package
        t0 = time.perf_counter()
        done = subprocess.run(command("twin", root / "reference-run"), env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the reference commit's study failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - t0, root / "reference-run"
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)


def command(preset: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "culturecart.cli", "study", "--preset", preset, "--out", str(out)]


def stored(run: Path, prefix: str = "") -> list[Path]:
    """The unit results stored in a study folder (not the units' model folders)."""
    folder = run / "units"
    return [f for f in folder.glob(f"{prefix}*") if f.suffix in (".npy", ".parquet", ".json")] \
        if folder.is_dir() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="twin")
    parser.add_argument("--kill-after", type=int, default=12, help="RQ1 units stored before the kill")
    parser.add_argument("--resume-preset", default=None,
                        help="preset of the kill-and-resume check (default: --preset; twin-small for a quick check)")
    parser.add_argument("--rerun-reference", action="store_true",
                        help="also time the reference commit's code on this machine (about 7 minutes on 2 cores)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="cc-study-"))
    clean, killed = root / "clean", root / "killed"
    fresh_cache(root)

    t0, idle0 = time.perf_counter(), idle_core_seconds()
    done = subprocess.run(command(args.preset, clean), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    idle = idle_core_seconds() - idle0 if idle0 is not None else None
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    (root / "clean.log").write_text(done.stderr, "utf-8")  # the whole progress log, with its timestamps
    print(done.stderr[-4000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    units = len(stored(clean))
    found = conclusions(clean)
    reference = json.loads(REFERENCE.read_text("utf-8")) if args.preset == "twin" else None
    changed = differences(found, reference) if reference else None
    here, changed_here, reference_moved = None, None, None
    if args.rerun_reference and reference:
        here, rerun = rerun_reference(reference["commit"], root)
        rerun_found = conclusions(rerun)
        changed_here = differences(found, rerun_found)
        reference_moved = differences(rerun_found, reference)  # what the environment alone moves

    resume_preset = args.resume_preset or args.preset
    uninterrupted = clean
    if resume_preset != args.preset:  # an uninterrupted run of the resume preset to compare with
        uninterrupted = root / "uninterrupted"
        subprocess.run(command(resume_preset, uninterrupted), capture_output=True, check=True)
    proc = subprocess.Popen(command(resume_preset, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while proc.poll() is None and len(stored(killed, "rq1-")) < args.kill_after:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored_at_kill = len(stored(killed))
    t1 = time.perf_counter()
    resumed = subprocess.run(command(resume_preset, killed), capture_output=True, text=True)
    resume_seconds = time.perf_counter() - t1
    identical = resumed.returncode == 0 and pd.read_parquet(killed / "results.parquet").equals(
        pd.read_parquet(uninterrupted / "results.parquet"))
    emit({
        "seconds": round(seconds, 1), "seconds_baseline": reference["seconds"] if reference else None,
        "speedup": round(reference["seconds"] / seconds, 2) if reference else None,
        "auc_best": round(found["best"]["auc"], 4), "best": f"{found['best']['model']}[{found['best']['modalities']}]",
        "conclusions_equal": changed == [] if reference else None, "differences": changed,
        "reference_seconds_here": round(here, 1) if here else None,
        "conclusions_equal_here": changed_here == [] if here else None, "differences_here": changed_here,
        "reference_differences_here": reference_moved,
        "speedup_here": round(here / seconds, 2) if here else None,
        "seconds_at_reference_speed": round(seconds * reference["seconds"] / here, 1) if here else None,
        "peak_rss_mb": round(peak, 1), "units": units,
        "idle_core_seconds": round(idle, 1) if idle is not None else None,
        "busy_share": round(1 - idle / (seconds * (os.cpu_count() or 1)), 3) if idle is not None else None,
        "resumed_identical": bool(identical), "units_stored_at_kill": stored_at_kill,
        "resume_seconds": round(resume_seconds, 1), "report": str(clean / "report.html"), "preset": args.preset, "resume_preset": resume_preset,
    })


if __name__ == "__main__":
    main()
