"""Hofstede's six cultural dimensions per country, keyed by ISO 3166 alpha-2.

Dimensions: ``pdi`` power distance, ``idv`` individualism, ``mas`` masculinity, ``uai`` uncertainty
avoidance, ``lto`` long-term orientation (the file's ``ltowvs``), ``ivr`` indulgence. Scores are on
Hofstede's 0-100 scale and may exceed 100 (Greece UAI 112, Malaysia PDI 104): they are never clipped.

The package ships the published 2015 scores of the countries the simulator uses
(``hofstede_2015.csv``; source: the "6 dimensions for website 2015-08-16" file distributed by
Geert Hofstede; cite Hofstede, Hofstede & Minkov (2010), *Cultures and Organizations: Software of
the Mind*, 3rd ed.). Any other country comes from a user-supplied file read by ``load_hofstede``.

Example:
    >>> profiles = shipped_hofstede()
    >>> int(profiles.loc["DE", "uai"]), int(profiles.loc["JP", "mas"])
    (65, 95)
"""

from __future__ import annotations

import io
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry

from culturecart.config_files import read_text_file
from culturecart.errors import ConfigError

DIMENSIONS = ("pdi", "idv", "mas", "uai", "lto", "ivr")
DIMENSION_NAMES = {
    "pdi": "power distance",
    "idv": "individualism",
    "mas": "masculinity",
    "uai": "uncertainty avoidance",
    "lto": "long-term orientation",
    "ivr": "indulgence",
}

# Hofstede's own country codes -> ISO 3166 alpha-2. None marks regions and sub-national rows
# (Arab countries, Africa East, Belgium French, Germany East, ...), which have no ISO code.
HOFSTEDE_CODES: dict[str, str | None] = {
    "AFE": None, "AFW": None, "ALB": "AL", "ALG": "DZ", "AND": "AD", "ARA": None, "ARG": "AR",
    "ARM": "AM", "AUL": "AU", "AUT": "AT", "AZE": "AZ", "BAN": "BD", "BLR": "BY", "BEL": "BE",
    "BEF": None, "BEN": None, "BOS": "BA", "BRA": "BR", "BUL": "BG", "BUF": "BF", "CAN": "CA",
    "CAF": None, "CHL": "CL", "CHI": "CN", "COL": "CO", "COS": "CR", "CRO": "HR", "CYP": "CY",
    "CZE": "CZ", "DEN": "DK", "ECA": "EC", "EGY": "EG", "ETH": "ET", "SAL": "SV", "EST": "EE",
    "FIN": "FI", "FRA": "FR", "GEO": "GE", "GER": "DE", "GEE": None, "GHA": "GH", "GBR": "GB",
    "GRE": "GR", "GUA": "GT", "HOK": "HK", "HUN": "HU", "ICE": "IS", "IND": "IN", "IDO": "ID",
    "IRA": "IR", "IRQ": "IQ", "IRE": "IE", "ISR": "IL", "ITA": "IT", "JAM": "JM", "JPN": "JP",
    "JOR": "JO", "KOR": "KR", "KYR": "KG", "LAT": "LV", "LIT": "LT", "LUX": "LU", "MAC": "MK",
    "MAL": "MY", "MLI": "ML", "MLT": "MT", "MEX": "MX", "MOL": "MD", "MNG": "ME", "MOR": "MA",
    "NET": "NL", "NZL": "NZ", "NIG": "NG", "NOR": "NO", "PAK": "PK", "PAN": "PA", "PER": "PE",
    "PHI": "PH", "POL": "PL", "POR": "PT", "PUE": "PR", "ROM": "RO", "RUS": "RU", "RWA": "RW",
    "SAU": "SA", "SER": "RS", "SIN": "SG", "SLK": "SK", "SLV": "SI", "SAF": "ZA", "SAW": None,
    "SPA": "ES", "SUR": "SR", "SWE": "SE", "SWI": "CH", "SWF": None, "SWG": None, "TAI": "TW",
    "TAN": "TZ", "THA": "TH", "TRI": "TT", "TUR": "TR", "USA": "US", "UGA": "UG", "UKR": "UA",
    "URU": "UY", "VEN": "VE", "VIE": "VN", "ZAM": "ZM", "ZIM": "ZW",
}
# Names pycountry does not resolve on its own, as they appear in Hofstede files.
_NAME_OVERRIDES = {
    "korea south": "KR", "south korea": "KR", "u.s.a.": "US", "great britain": "GB",
    "czech rep": "CZ", "slovak rep": "SK", "kyrgyz rep": "KG", "macedonia rep": "MK",
    "bosnia": "BA", "russia": "RU", "iran": "IR", "vietnam": "VN", "taiwan": "TW",
    "tanzania": "TZ", "venezuela": "VE", "moldova": "MD", "turkey": "TR", "bolivia": "BO",
    "syria": "SY", "laos": "LA", "são tomé and príncipe": "ST", "cape verde": "CV", "ivory coast": "CI", "north macedonia": "MK",
}
_COLUMN_ALIASES = {"ltowvs": "lto", "lto": "lto", "ivr": "ivr", "pdi": "pdi", "idv": "idv",
                   "mas": "mas", "uai": "uai"}


def iso_from_name(name: str) -> str | None:
    """ISO alpha-2 code for a country name as written in Hofstede files, or None."""
    key = name.strip().lower()
    if key in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[key]
    try:
        return pycountry.countries.lookup(name.strip()).alpha_2
    except LookupError:
        return None


def load_hofstede(path: str | Path) -> pd.DataFrame:
    """Read a Hofstede scores file into a frame indexed by ISO alpha-2.

    Accepts the official 6-D file (``;``-separated, ``#NULL!`` missing, Hofstede's own ``ctr``
    codes), its comma-separated copy, and country-name files (e.g. a Hofstede Insights export).
    Rows with no ISO code (regions such as "Arab countries") are dropped with a warning naming them.
    Columns: ``country`` (the file's name), ``source_code``, then the six dimensions as floats
    (NaN where the file has no score).
    """
    raw = read_text_file(path, "Hofstede file")
    first = raw.splitlines()[0] if raw else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    try:
        frame = pd.read_csv(io.StringIO(raw), sep=sep, na_values=["#NULL!", "", "-1"], keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ConfigError(f"Hofstede file {path}: cannot be read as CSV ({err})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "country" not in frame.columns:
        raise ConfigError(f"Hofstede file {path}: no 'country' column; columns are {list(frame.columns)}")
    dims = {c: _COLUMN_ALIASES[c] for c in frame.columns if c in _COLUMN_ALIASES}
    if not {"pdi", "idv", "mas", "uai"} <= set(dims.values()):
        raise ConfigError(f"Hofstede file {path}: expected columns pdi, idv, mas, uai (and lto/ltowvs, ivr); "
                          f"got {list(frame.columns)}")
    codes = frame["ctr"].astype(str).str.strip() if "ctr" in frame.columns else pd.Series([None] * len(frame))
    iso, dropped = [], []
    for code, name in zip(codes, frame["country"].astype(str), strict=True):
        value = HOFSTEDE_CODES[code] if code in HOFSTEDE_CODES else iso_from_name(name)
        iso.append(value)
        if value is None:
            dropped.append(name)
    out = pd.DataFrame({"iso2": iso, "country": frame["country"].astype(str).str.strip(),
                        "source_code": codes.where(codes.notna(), None)})
    for col, dim in dims.items():
        out[dim] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for dim in DIMENSIONS:
        if dim not in out.columns:
            out[dim] = np.nan
    if dropped:
        warnings.warn(f"{path}: {len(dropped)} rows have no ISO 3166 code and were dropped: "
                      f"{', '.join(dropped)}", stacklevel=2)
    out = out.dropna(subset=["iso2"]).drop_duplicates("iso2", keep="first").set_index("iso2")
    return out[["country", "source_code", *DIMENSIONS]]


def shipped_hofstede() -> pd.DataFrame:
    """The published 2015 scores that ship with the package (the simulator's countries)."""
    with resources.files("culturecart.data").joinpath("hofstede_2015.csv").open("rb") as fh:
        frame = pd.read_csv(fh, comment="#", keep_default_na=False, na_values=[""])
    return frame.set_index("iso2")[["country", "source_code", *DIMENSIONS]].astype(
        {d: float for d in DIMENSIONS})


def with_extra_profiles(path: str | Path | None) -> pd.DataFrame:
    """The shipped scores, with the countries of the Hofstede file at ``path`` (when given) added or replacing
    theirs."""
    base = shipped_hofstede()
    if not path:
        return base
    extra = load_hofstede(path)
    return pd.concat([extra, base[~base.index.isin(extra.index)]])


def hofstede_profiles(countries: list[str], path: str | Path | None = None) -> pd.DataFrame:
    """Six-dimension profiles for ``countries`` (ISO alpha-2), from ``path`` or the shipped scores.

    Raises ``KeyError`` naming every country that has no complete profile.
    """
    table = load_hofstede(path) if path is not None else shipped_hofstede()
    missing = [c for c in countries if c not in table.index]
    incomplete = [c for c in countries if c in table.index and table.loc[c, list(DIMENSIONS)].isna().any()]
    if missing or incomplete:
        hint = "" if path is not None else " (pass a Hofstede file for countries the package does not ship)"
        raise KeyError(f"no complete Hofstede profile for: missing {missing}, incomplete {incomplete}{hint}")
    return table.loc[countries]
