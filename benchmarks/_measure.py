"""Shared helpers for benchmark scripts: peak memory and the closing JSON line."""

from __future__ import annotations

import json
import resource
import sys


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(figures: dict) -> None:
    """Print the figures as the script's last line: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))
