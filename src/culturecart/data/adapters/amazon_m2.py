"""Amazon-M2 (KDD Cup 2023) sessions: ordered product ids per session, six locales.

Canonical form: one event per product in a session, in order (``position`` 1, 2, ...), and one
final event for the session's target item with ``purchased = 1``; the viewed items have
``purchased = 0`` and ``clicked = 1``. So ``purchased`` means "is the session's next item" (the
KDD Cup target), not a purchase. Files with a ``next_item`` column use it as the target; files
without one (task 3) use the last viewed item as the target and the rest as history (sessions of
one item are dropped). Each session is its own anonymous user whose country is the locale
(UK -> GB). Items have ids only: the public test splits carry no product attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import read_csv, to_iso2
from culturecart.data.dataset import Dataset
from culturecart.errors import InvalidInputError

DEFAULT_FILES = ("task2_public_sessions_with_next_item.csv.gz", "task2_private_sessions_with_next_item.csv.gz",
                 "task3_phrase1_sessions.csv.gz", "task3_phrase2_sessions.csv.gz")


def _sessions(path: Path, limit: int | None) -> tuple[pd.DataFrame, int]:
    raw = read_csv(path, limit, ["prev_items", "locale"], dtype=str)
    items = raw["prev_items"].fillna("").str.split()
    dropped = 0
    if "next_item" in raw.columns:
        history, target = items, raw["next_item"]
    else:
        keep = items.str.len() >= 2
        dropped = int((~keep).sum())
        raw, items = raw[keep], items[keep]
        history, target = items.str[:-1], items.str[-1]
    frame = pd.DataFrame({"history": history.to_numpy(), "target": target.to_numpy(),
                          "locale": raw["locale"].to_numpy(), "file": path.name})
    return frame, dropped


def convert_amazon_m2(src: str | Path, images: Path | None = None, limit: int | None = None) -> Dataset:
    """Convert one Amazon-M2 sessions CSV, or a folder holding the four released test-split files."""
    path = Path(src)
    files = [path / f for f in DEFAULT_FILES if (path / f).exists()] if path.is_dir() else [path]
    if not files:
        raise InvalidInputError(f"{path}: none of {list(DEFAULT_FILES)} found")
    parts = [_sessions(f, limit) for f in files]
    sessions = pd.concat([p[0] for p in parts], ignore_index=True)
    sessions["session_id"] = [f"m{i:07d}" for i in range(len(sessions))]
    lengths = sessions["history"].str.len().to_numpy()
    seq = [h + [t] for h, t in zip(sessions["history"], sessions["target"], strict=True)]
    n = lengths + 1
    sid = np.repeat(sessions["session_id"].to_numpy(), n)
    position = np.concatenate([np.arange(1, k + 1) for k in n]).astype(float)
    is_target = np.concatenate([np.r_[np.zeros(k - 1), 1] for k in n]).astype(np.int64)
    events = pd.DataFrame({
        "session_id": sid, "user_id": sid, "item_id": np.concatenate(seq) if seq else np.array([], dtype=object),
        "position": position, "clicked": np.where(is_target == 1, np.nan, 1.0), "purchased": is_target,
        "source_file": np.repeat(sessions["file"].to_numpy(), n),
    })
    countries = sessions["locale"].map(lambda loc: to_iso2("GB" if loc == "UK" else loc))
    users = pd.DataFrame({"user_id": sessions["session_id"], "country": countries.astype(object),
                          "locale": sessions["locale"]})
    items = pd.DataFrame({"item_id": pd.unique(events["item_id"])})
    return Dataset(users=users, items=items, events=events, meta={
        "name": "amazon-m2-sessions", "source": [str(f) for f in files],
        "label": "purchased = the row is the session's next item (KDD Cup 2023 task target), not a purchase",
        "citation": "Jin et al. (2023), Amazon-M2, NeurIPS Datasets and Benchmarks, arXiv 2307.09688",
        "notes": "Research-only data: never redistribute. No product attributes in these splits.",
        "dropped_single_item_sessions": sum(p[1] for p in parts),
    })
