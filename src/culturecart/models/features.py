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
vectors (items or reviews, not events, and no labels), so blocks stay small on millions of events.

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
from culturecart.encoders.encode import Embeddings

MODALITIES = ("offer", "consumer", "behaviour", "text", "image")
LEAKY_COLUMNS = frozenset({"clicked", "dwell_time_s", "purchased", "stars", "rating_given"})
ID_COLUMNS = frozenset({"session_id", "user_id", "item_id", "review_id", "timestamp", "query", "image_path",
                        "title", "description", "image", "image_phash", "source_file", "split", "target_month"})
MAX_LEVELS = 30


@dataclass
class ModalityData:
    """Feature blocks per modality (float32, NaN = missing) for ``n`` rows, with labels and row metadata.

    ``meta`` has ``session_id``, ``user_id``, ``item_id``, ``country`` and ``timestamp`` (where known).
    """

    blocks: dict[str, np.ndarray]
    names: dict[str, list[str]]
    present: dict[str, np.ndarray]
    y: np.ndarray
    meta: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)  # "tabular" or "embedding"

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if m in self.blocks]

    def rows(self, index: np.ndarray) -> ModalityData:
        """The subset of rows ``index`` (integer positions or a boolean mask)."""
        idx = np.asarray(index)
        return replace(self, blocks={m: b[idx] for m, b in self.blocks.items()},
                       present={m: p[idx] for m, p in self.present.items()}, y=self.y[idx],
                       meta=self.meta.iloc[idx].reset_index(drop=True))

    def select(self, modalities: Iterable[str]) -> ModalityData:
        """Only the given modalities (unknown or absent ones raise ``KeyError`` naming them)."""
        wanted = list(modalities)
        missing = [m for m in wanted if m not in self.blocks]
        if missing:
            raise KeyError(f"modalities {missing} are not in this data; available: {self.modalities}")
        return replace(self, blocks={m: self.blocks[m] for m in wanted}, names={m: self.names[m] for m in wanted},
                       present={m: self.present[m] for m in wanted}, kinds={m: self.kinds[m] for m in wanted})


def _one_hot(values: pd.Series, prefix: str, max_levels: int) -> tuple[np.ndarray, list[str]]:
    counts = values.dropna().astype(str).value_counts()
    levels = sorted(counts.index[:max_levels])
    text = values.astype(object).where(values.notna(), None)
    cols = [(text.astype(str) == lv).to_numpy(np.float32) for lv in levels]
    names = [f"{prefix}={lv}" for lv in levels]
    if len(counts) > max_levels:
        known = text.isin(levels) | text.isna()
        cols.append((~known).to_numpy(np.float32))
        names.append(f"{prefix}=<other>")
    out = np.stack(cols, axis=1) if cols else np.zeros((len(values), 0), np.float32)
    out[text.isna().to_numpy()] = np.nan
    return out, names


def _table_block(frame: pd.DataFrame, columns: list[str], max_levels: int,
                 transforms: dict[str, str] | None = None) -> tuple[np.ndarray, list[str]]:
    parts, names = [], []
    transforms = transforms or {}
    for col in columns:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values) or str(values.dtype) == "boolean":
            values = values.astype("Float64")
        if pd.api.types.is_numeric_dtype(values):
            arr = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
            if transforms.get(col) == "log1p":
                arr = np.log1p(np.maximum(arr, 0))
                col = f"log1p_{col}"
            parts.append(arr[:, None].astype(np.float32))
            names.append(col)
        else:
            block, block_names = _one_hot(values, col, max_levels)
            parts.append(block)
            names.extend(block_names)
    if not parts:
        return np.zeros((len(frame), 0), np.float32), []
    return np.concatenate(parts, axis=1).astype(np.float32), names


def user_history(events: pd.DataFrame) -> pd.DataFrame:
    """Per event: the user's purchases, sessions and purchase rate in strictly earlier sessions."""
    ev = events[["session_id", "user_id", "timestamp", "purchased"]].copy()
    sessions = ev.groupby(["user_id", "session_id"], sort=False).agg(start=("timestamp", "min"),
                                                                      bought=("purchased", "sum")).reset_index()
    sessions = sessions.sort_values(["user_id", "start", "session_id"], kind="stable")
    g = sessions.groupby("user_id", sort=False)
    sessions["prior_sessions"] = g.cumcount().astype(float)
    sessions["prior_purchases"] = (g["bought"].cumsum() - sessions["bought"]).astype(float)
    sessions["prior_purchase_rate"] = sessions["prior_purchases"] / sessions["prior_sessions"].replace(0, np.nan)
    keyed = sessions.set_index(["user_id", "session_id"])[["prior_sessions", "prior_purchases", "prior_purchase_rate"]]
    out = keyed.reindex(pd.MultiIndex.from_frame(ev[["user_id", "session_id"]])).reset_index(drop=True)
    return out.add_prefix("user_")


def reduce_embeddings(emb: Embeddings, dim: int | None, seed: int = 0) -> Embeddings:
    """PCA of the present vectors to ``dim`` components (unchanged when ``dim`` is None or too large)."""
    from sklearn.decomposition import PCA

    present = emb.vectors[emb.mask]
    if dim is None or dim >= emb.dim or len(present) <= dim:
        return emb
    pca = PCA(n_components=dim, random_state=seed).fit(present)
    out = np.full((len(emb.mask), dim), np.nan, np.float32)
    out[emb.mask] = pca.transform(present).astype(np.float32)
    return Embeddings(vectors=out, mask=emb.mask, encoder=f"{emb.encoder}+pca{dim}", errors=emb.errors)


def _embedding_rows(emb: Embeddings, ids: np.ndarray, id_order: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    pos = id_order.get_indexer(ids)
    vec = np.full((len(ids), emb.dim), np.nan, np.float32)
    ok = pos >= 0
    vec[ok] = emb.vectors[pos[ok]]
    present = np.zeros(len(ids), bool)
    present[ok] = emb.mask[pos[ok]]
    return vec, present


def _review_means(reviews: pd.DataFrame, emb: Embeddings, key: str) -> pd.DataFrame:
    frame = pd.DataFrame(np.where(emb.mask[:, None], emb.vectors, np.nan))
    frame[key] = reviews[key].astype(str).to_numpy()
    return frame.groupby(key).mean()


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


def build_features(ds: Dataset, embeddings: dict[str, Embeddings] | None = None,
                   max_levels: int = MAX_LEVELS, embedding_dim: int | None = 32,
                   keep_text: bool = False) -> ModalityData:
    """Modality blocks for every event of ``ds``; ``embeddings`` as returned by ``encode_dataset``."""
    events = ds.table("events").reset_index(drop=True)
    embeddings = {k: reduce_embeddings(v, embedding_dim) for k, v in (embeddings or {}).items()}
    items = ds.items.drop_duplicates("item_id").set_index("item_id") if ds.items is not None else pd.DataFrame()
    users = ds.users.drop_duplicates("user_id").set_index("user_id") if ds.users is not None else pd.DataFrame()
    item_rows = items.reindex(events["item_id"].astype(str)).reset_index(drop=True)
    has_users = "user_id" in events.columns and not users.empty
    user_rows = users.reindex(events["user_id"].astype(str)).reset_index(drop=True) if has_users else pd.DataFrame()
    n = len(events)
    blocks, names, present, kinds = {}, {}, {}, {}

    def add(name: str, block: np.ndarray, cols: list[str], kind: str, rows_present: np.ndarray | None = None):
        if block.shape[1] == 0:
            return
        blocks[name], names[name], kinds[name] = block, cols, kind
        present[name] = np.ones(n, bool) if rows_present is None else rows_present

    offer_cols = [c for c in item_rows.columns if c not in ID_COLUMNS and c not in LEAKY_COLUMNS]
    add("offer", *_table_block(item_rows, offer_cols, max_levels,
                               {"price": "log1p", "review_count": "log1p"}), "tabular")
    if has_users:
        add("consumer", *_table_block(user_rows, [c for c in user_rows.columns if c not in ID_COLUMNS],
                                      max_levels), "tabular")
    beh_cols = [c for c in events.columns if c not in ID_COLUMNS and c not in LEAKY_COLUMNS]
    beh = events[beh_cols].copy()
    if "timestamp" in events.columns and "user_id" in events.columns and events["timestamp"].notna().all():
        beh = pd.concat([beh, user_history(events)], axis=1)
    add("behaviour", *_table_block(beh, list(beh.columns), max_levels), "tabular")

    text_parts, text_names, text_present = [], [], np.zeros(n, bool)
    if "items.title" in embeddings and ds.items is not None:
        vec, ok = _embedding_rows(embeddings["items.title"], events["item_id"].astype(str).to_numpy(),
                                  pd.Index(ds.items["item_id"].astype(str)))
        text_parts.append(vec)
        text_names += [f"title_{i}" for i in range(vec.shape[1])]
        text_present |= ok
    if "reviews.text" in embeddings and ds.reviews is not None:
        per_event = ds.meta.get("review_scope") == "event"
        key = "review_id" if per_event else "item_id"
        means = _review_means(ds.reviews, embeddings["reviews.text"], key)
        lookup = events["session_id" if per_event else "item_id"].astype(str)
        vec = means.reindex(lookup).to_numpy(np.float32)
        ok = ~np.isnan(vec).any(axis=1)
        text_parts.append(vec)
        text_names += [f"review_{i}" for i in range(vec.shape[1])]
        text_present |= ok
    if text_parts:
        add("text", np.concatenate(text_parts, axis=1), text_names, "embedding", text_present)
    if "items.image_path" in embeddings and ds.items is not None:
        vec, ok = _embedding_rows(embeddings["items.image_path"], events["item_id"].astype(str).to_numpy(),
                                  pd.Index(ds.items["item_id"].astype(str)))
        add("image", vec, [f"image_{i}" for i in range(vec.shape[1])], "embedding", ok)

    meta = pd.DataFrame({"session_id": events["session_id"].astype(str), "item_id": events["item_id"].astype(str)})
    meta["user_id"] = events["user_id"].astype(str) if "user_id" in events.columns else meta["session_id"]
    meta["country"] = (user_rows["country"].to_numpy() if has_users and "country" in user_rows.columns
                       else pd.Series([None] * n, dtype=object))
    if "timestamp" in events.columns:
        meta["timestamp"] = pd.to_datetime(events["timestamp"]).to_numpy()
    if keep_text:
        meta["text"] = event_texts(ds, events).to_numpy()
    return ModalityData(blocks=blocks, names=names, present=present,
                        y=events["purchased"].to_numpy(np.int64), meta=meta, kinds=kinds)
