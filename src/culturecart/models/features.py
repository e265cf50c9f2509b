"""From a canonical dataset to modality blocks, one row per event.

Five modalities (any may be absent in a dataset):

=============  ==================================================================================
``offer``      item attributes: log price, discount, free shipping, premium brand, rating, log review
               count, other numeric item columns; category and brand one-hot (top levels + other)
``consumer``   user attributes: age, gender, country and other user columns (one-hot for text columns)
``behaviour``  the event's context and history: position, ``bhv_*`` columns, other event columns, and
               the user's purchases/sessions in strictly earlier sessions (when timestamps exist)
``text``       the item title embedding and the mean embedding of the item's reviews (or, when
               ``meta["review_scope"] == "event"``, the event's own review)
``image``      the item image embedding
=============  ==================================================================================

With ``keep_text=True`` the raw text behind the text block (title, then the reviews) also goes to
``meta["text"]`` for models that tokenise it themselves (``ngram_logistic``).

Embeddings are reduced to ``embedding_dim`` components by PCA fitted on the catalogue's unique
vectors (items or reviews, not events, and no labels), and the text and image blocks keep one row per
item (a :class:`~culturecart.models.blocks.RowBlock`), so blocks stay small on millions of events.

Columns that are outcomes of the impression are never features: ``clicked`` and ``dwell_time_s``
(a purchase needs a click) and the label itself; ``LEAKY_COLUMNS`` lists them. Missing values stay
NaN; ``present`` marks, per modality, the rows that have it (a missing title or image masks the
whole modality for that row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from culturecart.data.dataset import Dataset
from culturecart.models.blocks import RowBlock

MODALITIES = ("offer", "consumer", "behaviour", "text", "image")
LEAKY_COLUMNS = frozenset({"clicked", "dwell_time_s", "purchased", "stars", "rating_given"})
ID_COLUMNS = frozenset({"session_id", "user_id", "item_id", "review_id", "timestamp", "query", "image_path",
                        "title", "description", "image", "image_phash", "source_file", "split", "target_month"})
MAX_LEVELS = 30


@dataclass
class ModalityData:
    """Feature blocks per modality (float32, NaN = missing) for ``n`` rows, with labels and row metadata.

    A block is a float32 array or a :class:`~culturecart.models.blocks.RowBlock` (rows looked up in a table:
    embeddings per item, row subsets); both read the same way. ``meta`` has ``session_id``, ``user_id``, ``item_id``, ``country`` and ``timestamp`` (where known).
    """

    blocks: dict[str, np.ndarray | RowBlock]
    names: dict[str, list[str]]
    present: dict[str, np.ndarray]
    y: np.ndarray
    meta: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)  # "tabular" or "embedding"
    unseen: dict[str, int] = field(default_factory=dict)  # values of categories the featurizer never saw, per column

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if m in self.blocks]

    def rows(self, index: np.ndarray) -> ModalityData:
        """The subset of rows ``index`` (integer positions or a boolean mask); blocks are row views, not copies."""
        idx = np.asarray(index)
        return replace(self, blocks={m: RowBlock.of(b, idx) for m, b in self.blocks.items()},
                       present={m: p[idx] for m, p in self.present.items()}, y=self.y[idx],
                       meta=self.meta.iloc[idx].reset_index(drop=True))

    def compact(self) -> ModalityData:
        """The same rows holding only the table rows they use (a subset shipped to a worker stays small)."""
        return replace(self, blocks={m: b.compact() if isinstance(b, RowBlock) else b for m, b in self.blocks.items()})

    def select(self, modalities: Iterable[str]) -> ModalityData:
        """Only the given modalities (unknown or absent ones raise ``KeyError`` naming them)."""
        wanted = list(modalities)
        missing = [m for m in wanted if m not in self.blocks]
        if missing:
            raise KeyError(f"modalities {missing} are not in this data; available: {self.modalities}")
        return replace(self, blocks={m: self.blocks[m] for m in wanted}, names={m: self.names[m] for m in wanted},
                       present={m: self.present[m] for m in wanted}, kinds={m: self.kinds[m] for m in wanted})


def event_texts(ds: Dataset, events: pd.DataFrame) -> pd.Series:
    """Per event: the item title and the review text(s) the text block reads, joined ("" where none)."""
    joined = pd.Series([""] * len(events), dtype=object)
    if ds.items is not None and "title" in ds.items.columns:
        items = ds.items.drop_duplicates("item_id")
        titles = pd.Series(items["title"].to_numpy(), index=items["item_id"].astype(str))
        joined += titles.reindex(events["item_id"].astype(str)).fillna("").astype(str).to_numpy()
    if ds.reviews is not None and "text" in ds.reviews.columns:
        per_event = ds.meta.get("review_scope") == "event"
        key = "review_id" if per_event else "item_id"
        reviews = ds.reviews.dropna(subset=["text"])
        texts = reviews["text"].astype(str).groupby(reviews[key].astype(str).to_numpy()).agg(" ".join)
        lookup = events["session_id" if per_event else "item_id"].astype(str)
        joined += " " + texts.reindex(lookup).fillna("").to_numpy()
    return joined.str.strip()


def usable_valid(valid: ModalityData | None) -> ModalityData | None:
    """``valid`` when it can steer early stopping (rows of both classes), else None."""
    return valid if valid is not None and valid.n and valid.y.min() != valid.y.max() else None
