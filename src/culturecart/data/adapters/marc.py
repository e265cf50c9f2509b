"""Multilingual Amazon Reviews Corpus subset (Keung et al. 2020): review text, stars, marketplace.

Canonical form: each review is one anonymous user (country = the marketplace it was collected
from, as MARC documents it, not the reviewer's nationality), one pseudo-item (MARC's product ids are
not in this subset) and one event. The label ``purchased`` = stars >= 4 ("satisfied"): not a purchase.
``stars`` and MARC's ``split`` stay as extra event columns; the review's own rating is not stored on
``reviews`` so that no feature copies the label. Research-only data: never redistribute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import first_existing, read_csv, to_iso2
from culturecart.data.dataset import Dataset
from culturecart.errors import InvalidInputError


def convert_marc(src: str | Path, images: Path | None = None, limit: int | None = None,
                 positive_from: int = 4) -> Dataset:
    """Convert ``marc_6lang_subset.csv.gz`` (or its folder)."""
    path = Path(src)
    if path.is_dir():
        path = first_existing(path / "marc_6lang_subset.csv.gz")
    raw = read_csv(path, limit, ["language", "marketplace", "split", "text", "stars"])
    ids = [f"m{i:06d}" for i in range(len(raw))]
    stars = pd.to_numeric(raw["stars"], errors="coerce")
    if stars.isna().any() or not stars.between(1, 5).all():
        bad = np.flatnonzero(stars.isna() | ~stars.between(1, 5))[:10].tolist()
        raise InvalidInputError(f"{path}: stars must be 1-5; bad rows {bad}")
    users = pd.DataFrame({"user_id": ids, "country": raw["marketplace"].map(to_iso2).astype(object)})
    items = pd.DataFrame({"item_id": ids})
    reviews = pd.DataFrame({"review_id": ids, "item_id": ids, "user_id": ids,
                            "text": raw["text"].astype(str), "language": raw["language"].astype(str)})
    events = pd.DataFrame({"session_id": ids, "user_id": ids, "item_id": ids, "split": raw["split"].astype(str),
                           "stars": stars.astype(float), "purchased": (stars >= positive_from).astype(np.int64)})
    return Dataset(users=users, items=items, reviews=reviews, events=events, meta={
        "name": "marc-6lang", "source": str(path),
        "label": f"purchased = stars >= {positive_from} (a satisfied review), not a purchase",
        "citation": "Keung, Lu, Szarvas & Smith (2020), The Multilingual Amazon Reviews Corpus, EMNLP",
        "notes": "Research-only data: never redistribute. Country = marketplace of collection.",
        "review_scope": "event",
    })
