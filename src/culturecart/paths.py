"""Where culturecart finds the shared real data sets."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """Folder holding the real data sets: ``$CULTURECART_DATA``, else ``../shared/data`` beside the repo.

    Example:
        >>> isinstance(data_root(), Path)
        True
    """
    env = os.environ.get("CULTURECART_DATA")
    if env:
        return Path(env).expanduser()
    return _REPO_ROOT.parent / "shared" / "data"


def dataset_path(name: str) -> Path:
    """Path of one shared data set folder, e.g. ``dataset_path("hofstede")`` (it may not exist)."""
    return data_root() / name
