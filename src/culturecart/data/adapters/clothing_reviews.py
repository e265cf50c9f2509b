"""Women's E-Commerce Clothing Reviews (Kaggle, 2018): review text, age, product class, recommendation.

Canonical form: each review row is one anonymous reviewer (``users``: age), one event (label
``purchased`` = ``Recommended IND``: the reviewer recommends the item; not a purchase) and one review
(text = title + review text; rows with neither have no review, so the text modality is missing for
them rather than an empty string). Items are ``Clothing ID`` with division, department and class
(``category`` = class). The star ``Rating`` is left out: it is a near-copy of the label (alone it
scores AUC 0.97). ``Positive Feedback Count`` becomes ``bhv_positive_feedback``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import first_existing, read_csv
from culturecart.data.dataset import Dataset
from culturecart.errors import InvalidInputError

REQUIRED = ["Clothing ID", "Age", "Title", "Review Text", "Recommended IND", "Positive Feedback Count",
            "Division Name", "Department Name", "Class Name"]


def convert_clothing_reviews(src: str | Path, images: Path | None = None, limit: int | None = None) -> Dataset:
    """Convert ``womens_clothing_ecommerce_reviews.csv(.gz)`` (or its folder)."""
    path = Path(src)
    if path.is_dir():
        path = first_existing(path / "womens_clothing_ecommerce_reviews.csv.gz")
    raw = read_csv(path, limit, REQUIRED)
    ids = [f"c{i:05d}" for i in range(len(raw))]
    item_ids = raw["Clothing ID"].astype(str)
    users = pd.DataFrame({"user_id": ids, "country": pd.Series([None] * len(raw), dtype=object),
                          "age": pd.to_numeric(raw["Age"], errors="coerce").astype(float)})

    def mode(s: pd.Series) -> object:
        m = s.dropna().mode()
        return m.iat[0] if len(m) else None

    g = raw.groupby(item_ids)
    items = pd.DataFrame({"category": g["Class Name"].agg(mode), "department": g["Department Name"].agg(mode),
                          "division": g["Division Name"].agg(mode)}).rename_axis("item_id").reset_index()
    title = raw["Title"].fillna("").str.strip()
    body = raw["Review Text"].fillna("").str.strip()
    text = np.where((title != "") & (body != ""), title + ". " + body, title + body)
    reviews = pd.DataFrame({"review_id": ids, "item_id": item_ids, "user_id": ids, "text": text,
                            "language": "en"})
    reviews = reviews[reviews["text"] != ""].reset_index(drop=True)
    events = pd.DataFrame({"session_id": ids, "user_id": ids, "item_id": item_ids,
                           "bhv_positive_feedback": pd.to_numeric(raw["Positive Feedback Count"]).astype(float),
                           "purchased": pd.to_numeric(raw["Recommended IND"], errors="coerce")})
    if events["purchased"].isna().any():
        bad = np.flatnonzero(events["purchased"].isna())[:10].tolist()
        raise InvalidInputError(f"{path}: 'Recommended IND' must be 0/1; bad rows {bad}")
    events["purchased"] = events["purchased"].astype(np.int64)
    return Dataset(users=users, items=items, reviews=reviews, events=events, meta={
        "name": "womens-clothing-reviews", "source": str(path),
        "label": "purchased = Recommended IND (the reviewer recommends the item), not a purchase",
        "notes": "Rating left out on purpose: a near-copy of the label. No country, no images.",
        "review_scope": "event",
    })
