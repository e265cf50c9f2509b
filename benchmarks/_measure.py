"""Shared helpers for benchmark scripts: peak memory and the closing JSON line."""

from __future__ import annotations

import json
import os
import resource
import sys


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


def emit(figures: dict) -> None:
    """Print the figures as the script's last line: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))
