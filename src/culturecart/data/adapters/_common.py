"""Helpers shared by the adapters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pycountry

# Country names in public data sets that pycountry does not resolve; None = no ISO 3166 code.
COUNTRY_OVERRIDES: dict[str, str | None] = {
    "EIRE": "IE", "RSA": "ZA", "USA": "US", "UK": "GB", "Czech Republic": "CZ",
    "Channel Islands": None, "European Community": None, "Unspecified": None,
}


def read_csv(src: str | Path, limit: int | None, required: list[str], **kwargs) -> pd.DataFrame:
    """Read a (possibly gzipped) CSV, failing with a message that names missing columns."""
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"source file {path} does not exist")
    frame = pd.read_csv(path, nrows=limit, **kwargs)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


def to_iso2(name: object) -> str | None:
    """ISO 3166 alpha-2 for a country name or code as written in a data set, or None."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return None
    text = str(name).strip()
    if text in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[text]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None


def first_existing(*candidates: Path) -> Path:
    """The first path that exists (for adapters that accept a file or its folder)."""
    for c in candidates:
        if c.exists():
            return c
    raise FileNotFoundError(f"none of these exist: {[str(c) for c in candidates]}")
