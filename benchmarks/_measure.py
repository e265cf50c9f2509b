"""Shared helpers for benchmark scripts: peak memory and the closing JSON line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shlex
import sys
import threading
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's VmHWM (the high-water mark of this process's own memory map) where available: ``ru_maxrss``
    survives ``exec`` and so reports the parent's peak in a freshly spawned child process.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class TreeMemory:
    """Peak summed memory of a process and its descendants, sampled in a background thread.

    ``rss``: resident set sizes added up (pages shared between processes, such as the data the workers
    memory-map, count once per process); ``pss``: proportional set sizes added up (a shared page is split among
    the processes mapping it), the tree's actual footprint; ``main``: the study process alone (RSS).
    """

    def __init__(self, pid: int) -> None:
        import psutil  # with dask[distributed] (the test extra)

        self._psutil = psutil
        self.root, self._stop = psutil.Process(pid), threading.Event()
        self.peak = {"rss": 0, "pss": 0, "main": 0}
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                rss = pss = 0
                for p in procs:
                    with contextlib.suppress(self._psutil.Error):  # a worker that just exited
                        info = p.memory_full_info()
                        rss, pss = rss + info.rss, pss + info.pss
                self.peak["rss"], self.peak["pss"] = max(self.peak["rss"], rss), max(self.peak["pss"], pss)
                self.peak["main"] = max(self.peak["main"], self.root.memory_info().rss)
            except self._psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {k: round(v / 2 ** 20, 1) for k, v in self.peak.items()}


def idle_core_seconds() -> float | None:
    """Seconds the machine's cores have been idle since boot, summed over cores (Linux ``/proc/stat``: idle and
    iowait); None where there is no such file. The difference over a run is how much of the machine it left
    unused."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


RESULTS = Path(__file__).resolve().parent / "results"


def commit_id() -> str:
    """The repository's commit, with ``+changes`` when the working tree differs from it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _machine() -> str:
    """Cores and CPU model (Linux ``/proc/cpuinfo``), what a reader needs to compare timings."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores" + (f", {model}" if model else "")


def emit(figures: dict, variant: str | None = None) -> None:
    """Print the figures as the script's last line (one JSON object) and keep them in
    ``benchmarks/results/<script>.json`` with the command line that measured them and when (written atomically).
    A run that measures only part of what the script can (a subset of markets, a smoke run) names its ``variant``
    and is kept in ``<script>.<variant>.json``, beside the whole run's file rather than over it."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))
    script = Path(sys.argv[0]).resolve()
    # the command as run from the repository's root, wherever it was started from
    shown = script.relative_to(RESULTS.parent.parent) if script.is_relative_to(RESULTS.parent.parent) else script
    record = {"command": shlex.join(["python", str(shown), *sys.argv[1:]]), "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": commit_id(), "machine": _machine(), "figures": figures}
    RESULTS.mkdir(exist_ok=True)
    name = Path(sys.argv[0]).stem + (f".{re.sub(r'[^A-Za-z0-9_-]+', '-', variant)}" if variant else "")
    target = RESULTS / f"{name}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
