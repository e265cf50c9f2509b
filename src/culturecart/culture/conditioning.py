"""Culture as model input: swap the country one-hot for the country's Hofstede profile.

A model that sees ``hofstede_<dim>`` columns (score / 100) instead of ``country=XX`` indicators is
conditioned on culture, not on identity: countries with similar profiles share what is learnt, and it
can score a country it never saw in training (zero-shot), as long as that country has a profile.

Example:
    >>> import numpy as np, pandas as pd
    >>> from culturecart.models.features import ModalityData
    >>> d = ModalityData(blocks={"consumer": np.array([[30., 1, 0], [40., 0, 1]], np.float32)},
    ...                  names={"consumer": ["age", "country=DE", "country=JP"]},
    ...                  present={"consumer": np.ones(2, bool)}, y=np.array([0, 1]),
    ...                  meta=pd.DataFrame({"country": ["DE", "JP"], "user_id": ["a", "b"]}))
    >>> c = with_culture(d)
    >>> c.names["consumer"][:2], round(float(c.blocks["consumer"][1, 4]), 2)  # JP uncertainty avoidance 92
    (['age', 'hofstede_pdi'], 0.92)
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from culturecart.data.hofstede import DIMENSIONS, shipped_hofstede
from culturecart.models.features import ModalityData

COUNTRY_PREFIX = "country="


def without_country(data: ModalityData) -> ModalityData:
    """The same data with every ``country=`` column removed from every block."""
    blocks, names = dict(data.blocks), dict(data.names)
    for m, cols in data.names.items():
        keep = [i for i, c in enumerate(cols) if not c.startswith(COUNTRY_PREFIX)]
        if len(keep) != len(cols):
            blocks[m], names[m] = data.blocks[m][:, keep], [cols[i] for i in keep]
    return replace(data, blocks=blocks, names=names)


def hofstede_columns(countries: pd.Series, profiles: pd.DataFrame | None = None) -> np.ndarray:
    """Rows x 6 Hofstede scores / 100 for each row's country; NaN where the country has no profile."""
    profiles = shipped_hofstede() if profiles is None else profiles
    codes = countries.astype(object).where(countries.notna(), None)
    known = set(profiles.index)
    missing = sorted({c for c in codes.dropna().unique() if c not in known})
    if missing:
        warnings.warn(f"no Hofstede profile for {', '.join(map(str, missing))}: their culture columns are missing; "
                      "give a fuller Hofstede scores file (culture.hofstede_path in a study config; profiles= in "
                      "Python)", stacklevel=3)
    table = profiles[list(DIMENSIONS)].astype(float) / 100.0
    return table.reindex(codes.to_numpy()).to_numpy(np.float32)


def with_culture(data: ModalityData, profiles: pd.DataFrame | None = None) -> ModalityData:
    """Replace country indicators with the Hofstede profile (``hofstede_<dim>``) in the consumer block."""
    base = without_country(data)
    culture = hofstede_columns(data.meta["country"], profiles)
    names = [f"hofstede_{d}" for d in DIMENSIONS]
    blocks, all_names, present = dict(base.blocks), dict(base.names), dict(base.present)
    kinds = dict(base.kinds)
    if "consumer" in blocks:
        blocks["consumer"] = np.concatenate([blocks["consumer"], culture], axis=1)
        all_names["consumer"] = all_names["consumer"] + names
    else:
        blocks["consumer"], all_names["consumer"] = culture, names
        present["consumer"], kinds["consumer"] = np.ones(data.n, bool), "tabular"
    return replace(base, blocks=blocks, names=all_names, present=present, kinds=kinds)
