"""Country names and codes as data sets write them, to ISO 3166 alpha-2 (the canonical ``users.country``)."""

from __future__ import annotations

import pandas as pd
import pycountry

# Country names in public data sets that pycountry does not resolve; None = no ISO 3166 code.
COUNTRY_OVERRIDES: dict[str, str | None] = {
    "EIRE": "IE", "RSA": "ZA", "USA": "US", "UK": "GB", "Czech Republic": "CZ",
    "Channel Islands": None, "European Community": None, "Unspecified": None,
}


def to_iso2(name: object) -> str | None:
    """ISO 3166 alpha-2 for a country name or code as written in a data set, or None.

    Example:
        >>> to_iso2("United Kingdom"), to_iso2("de"), to_iso2("EIRE"), to_iso2("Atlantis")
        ('GB', 'DE', 'IE', None)
    """
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return None
    text = str(name).strip()
    if text in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[text]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
