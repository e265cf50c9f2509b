"""Helpers shared by the adapters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.countries import COUNTRY_OVERRIDES, to_iso2  # noqa: F401  (the adapters' import)
from culturecart.data.dataset import unreadable
from culturecart.errors import InvalidInputError, MissingInputError


def read_csv(src: str | Path, limit: int | None, required: list[str], allow_empty: bool = False,
             **kwargs) -> pd.DataFrame:
    """Read a (possibly gzipped) CSV; :class:`InvalidInputError` naming the file and what is wrong.

    Missing file, a folder, a damaged or truncated gzip, an empty file, text that is not UTF-8 (byte
    offset and line), missing columns, and (unless ``allow_empty``) a header without data rows.
    """
    path = Path(src)
    if not path.exists():
        raise MissingInputError(f"source file {path} does not exist")
    if path.is_dir():
        raise InvalidInputError(f"source {path} is a folder; give the file")
    if path.stat().st_size == 0:
        raise InvalidInputError(f"source file {path} is empty (0 bytes, not even a header row)")
    try:
        frame = pd.read_csv(path, nrows=limit, **kwargs)
    except Exception as exc:  # every reader failure here is a property of the file
        raise InvalidInputError(f"source file {path}: {unreadable(path, exc)}") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    if frame.empty and not allow_empty:
        raise InvalidInputError(f"{path}: has a header but no data rows")
    return frame


def numeric_column(frame: pd.DataFrame, column: str, path: Path, integer: bool = False) -> pd.Series:
    """``frame[column]`` as numbers; :class:`InvalidInputError` naming file, column and rows that are not numbers.

    Empty cells stay missing; text such as ``"12a"`` is an error, never silently missing.
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if integer:
        bad |= values.notna() & (values != values.round())
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InvalidInputError(
            f"{path}: column {column!r} must be {'whole ' if integer else ''}numbers; rows {rows[:10].tolist()}"
            + (f" (+{len(rows) - 10} more)" if len(rows) > 10 else "")
            + f" (0-based data rows; line = row + 2), e.g. {raw.iat[rows[0]]!r}")
    return values.astype(float)


def first_existing(*candidates: Path) -> Path:
    """The first path that exists (for adapters that accept a file or its folder)."""
    for c in candidates:
        if c.exists():
            return c
    raise MissingInputError(f"none of these exist: {[str(c) for c in candidates]}")
