"""UCI Online Shoppers Purchasing Intention (Sakar et al. 2018): one session per row, label Revenue.

Canonical form: one event per session on a single pseudo-item ``store`` (the data has no products);
the ten page-count/duration/rate aggregates become ``bhv_*`` behaviour features; context (month,
weekend, browser, ...) stays as extra event columns; visitor type and the anonymised region go on
``users`` (country is missing: Region is not a country). Durations of -1 in the raw release
become missing, as do the 14 rows with empty aggregates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import first_existing, numeric_column, read_csv
from culturecart.data.dataset import Dataset
from culturecart.errors import InvalidInputError

BEHAVIOUR = ["Administrative", "Administrative_Duration", "Informational", "Informational_Duration",
             "ProductRelated", "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues",
             "SpecialDay"]
CONTEXT = {"Month": "month", "Weekend": "weekend", "OperatingSystems": "operating_system",
           "Browser": "browser", "TrafficType": "traffic_type"}


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("__", "_")


def convert_shoppers(src: str | Path, images: Path | None = None, limit: int | None = None) -> Dataset:
    """Convert ``online_shoppers_intention.csv(.gz)`` (or its folder) to the canonical model."""
    path = Path(src)
    if path.is_dir():
        path = first_existing(path / "online_shoppers_intention.csv.gz", path / "online_shoppers_intention.csv")
    raw = read_csv(path, limit, BEHAVIOUR + list(CONTEXT) + ["Region", "VisitorType", "Revenue"],
                   sep=None, engine="python")
    n = len(raw)
    ids = [f"s{i:05d}" for i in range(n)]
    events = pd.DataFrame({"session_id": ids, "user_id": ids, "item_id": "store"})
    for col in BEHAVIOUR:
        values = numeric_column(raw, col, path)
        if col.endswith("_Duration"):
            values = values.where(values >= 0)  # -1 marks an unknown duration in the raw release
        events["bhv_" + _snake(col)] = values.to_numpy()
    for col, name in CONTEXT.items():
        # Operating system, browser and traffic type are anonymised codes, not quantities: keep them categorical.
        events[name] = raw[col].to_numpy() if col in ("Month", "Weekend") else raw[col].astype(str).to_numpy()
    label = raw["Revenue"].astype(str).str.upper().map({"TRUE": 1, "FALSE": 0})
    if label.isna().any():
        bad = np.flatnonzero(label.isna())[:10].tolist()
        raise InvalidInputError(f"{path}: Revenue must be TRUE/FALSE; bad rows {bad}")
    events["purchased"] = label.astype(np.int64).to_numpy()
    users = pd.DataFrame({"user_id": ids, "country": None, "region": raw["Region"].astype(str).to_numpy(),
                          "visitor_type": raw["VisitorType"].to_numpy()})
    users["country"] = users["country"].astype(object)
    items = pd.DataFrame({"item_id": ["store"], "title": [None]})
    return Dataset(users=users, items=items, events=events, meta={
        "name": "uci-online-shoppers", "source": str(path),
        "label": "purchased = Revenue (the session ended in a transaction)",
        "citation": "Sakar, Polat, Katircioglu & Kastro (2018), Neural Computing and Applications",
        "notes": "Session-level aggregates only: no products, text, images or country. PageValues is "
                 "computed by Google Analytics from pages preceding transactions and is a very strong feature.",
    })
