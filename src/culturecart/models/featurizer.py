"""Fitted feature state: what ``fit`` learned about the columns, saved and reused at predict time.

A :class:`Featurizer` is fitted once (on training rows) and then turns *any* dataset in the canonical
schema into the same modality blocks, column for column:

* tabular columns keep their kind (number or category); categories keep their fitted levels
  (:mod:`culturecart.models.columns`: a level not seen in fit is the unseen level, counted in the result's
  ``unseen``, never missing).
* embeddings (title, reviews, image) go through the projection fitted in ``fit``
  (:mod:`culturecart.models.projection`), looked up per item rather than recomputed.
* user history (:mod:`culturecart.models.history`) is computed from the sessions stored at fit time plus the
  scoring data's own sessions, over the whole scoring table before any chunking.

Nothing is fitted, and nothing in the featurizer changes, at transform time. Columns the fit saw must be present
(a clear :class:`~culturecart.errors.InvalidInputError` names them otherwise); other columns are ignored. The state
is saved as arrays (``featurizer.npz`` under the header of :mod:`culturecart.persist`), never pickled.

Example:
    >>> import pandas as pd
    >>> from culturecart.data import Dataset
    >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a", "b"], "category": ["x", "y"], "price": [1.0, 9.0]}),
    ...              events=pd.DataFrame({"session_id": ["s1", "s2"], "item_id": ["a", "b"], "purchased": [0, 1]}))
    >>> f = Featurizer().fit(ds)
    >>> f.transform(ds).names["offer"]
    ['category=x', 'category=y', 'log1p_price']
    >>> new = Dataset(items=pd.DataFrame({"item_id": ["c"], "category": ["z"], "price": [3.0]}),
    ...               events=pd.DataFrame({"session_id": ["s9"], "item_id": ["c"]}))
    >>> data = f.transform(new)
    >>> data.blocks["offer"].tolist(), data.unseen
    ([[0.0, 0.0, 1.3862943649291992]], {'category': 1})
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from culturecart.data.dataset import Dataset
from culturecart.encoders.encode import Embeddings
from culturecart.errors import InvalidInputError
from culturecart.models.blocks import RowBlock
from culturecart.models.columns import LOG_COLUMNS, ColumnSpec, encode, fit_columns, output_names
from culturecart.models.features import ID_COLUMNS, LEAKY_COLUMNS, MAX_LEVELS, ModalityData, event_texts
from culturecart.models.history import HISTORY_NAMES, SessionIndex, session_table
from culturecart.models.projection import Projection
from culturecart.persist import Files, Fitted, check_is_fitted, save_npz

FEATURIZER_VERSION = 1
EMBEDDING_KEYS = ("items.title", "reviews.text", "items.image_path")  # what the text and image blocks read


def build_features(ds: Dataset, embeddings: dict[str, Embeddings] | None = None,
                   max_levels: int = MAX_LEVELS, embedding_dim: int | None = 32,
                   keep_text: bool = False) -> ModalityData:
    """Modality blocks for every event of ``ds``; ``embeddings`` as returned by ``encode_dataset``.

    A :class:`Featurizer` fitted on the whole dataset (no labels but the users' earlier purchases) and applied to
    it; to score other data with the same state, fit the featurizer once and keep it
    (:class:`~culturecart.predictor.PurchasePredictor` does).
    """
    featurizer = Featurizer(max_levels=max_levels, embedding_dim=embedding_dim).fit(ds, embeddings)
    return featurizer.transform(ds, embeddings, keep_text=keep_text)


class FeaturizerConfig(BaseModel):
    """How a featurizer reduces columns: levels kept per category, components kept per embedding."""

    model_config = ConfigDict(extra="forbid")

    max_levels: int = Field(MAX_LEVELS, ge=1, description="levels kept per categorical column (the rest: <other>)")
    embedding_dim: int | None = Field(32, ge=1, description="PCA components per embedding (None: all)")


class Featurizer(Fitted):
    """Fit on a dataset (or its training rows), then transform any dataset into the same modality blocks."""

    kind = "featurizer"
    config_class = FeaturizerConfig
    fitted_attribute = "offer_"

    def __init__(self, config: FeaturizerConfig | None = None, **options: object) -> None:
        self.config = self.make_config(config, **options)
        self.offer_: list[ColumnSpec] | None = None
        self.consumer_: list[ColumnSpec] = []
        self.behaviour_: list[ColumnSpec] = []
        self.history_ = False
        self.projections_: dict[str, Projection] = {}
        self.review_scope_ = "item"
        self.sessions_: pd.DataFrame | None = None

    @property
    def max_levels(self) -> int:
        return self.config.max_levels

    @property
    def embedding_dim(self) -> int | None:
        return self.config.embedding_dim

    def __repr__(self) -> str:
        state = f"fitted on {sum(len(s) for s in (self.offer_ or [], self.consumer_, self.behaviour_))} columns" \
            if self.is_fitted() else "not fitted"
        return f"Featurizer(max_levels={self.max_levels}, embedding_dim={self.embedding_dim}; {state})"

    # ---- fit ----
    def fit(self, ds: Dataset, embeddings: dict[str, Embeddings] | None = None, rows: np.ndarray | None = None,
            projection: str = "catalogue") -> Featurizer:
        """Learn column kinds and levels, embedding projections and the stored user history.

        ``rows`` (event positions) restricts fitting to training rows; ``projection="catalogue"`` fits the
        embedding projections on every item / review of the dataset (no labels are used), ``"train"`` on the
        items (and their reviews) that the fitted events show.
        """
        if projection not in ("catalogue", "train"):
            raise ValueError(f"projection must be 'catalogue' or 'train', not {projection!r}")
        events = ds.table("events").reset_index(drop=True)
        if rows is not None:
            events = events.iloc[np.asarray(rows)].reset_index(drop=True)
        item_rows, user_rows = _joined(ds, events)
        empty: list[str] = []  # columns without a single value in the training rows carry nothing to learn
        self.offer_ = fit_columns(item_rows, _usable(item_rows, [c for c in item_rows.columns if c not in ID_COLUMNS
                                                                 and c not in LEAKY_COLUMNS], "items", empty),
                                  self.max_levels, LOG_COLUMNS)
        self.consumer_ = fit_columns(user_rows, _usable(user_rows, [c for c in user_rows.columns if c not in ID_COLUMNS],
                                                        "users", empty),
                                     self.max_levels) if user_rows is not None else []
        beh_cols = _usable(events, [c for c in events.columns if c not in ID_COLUMNS and c not in LEAKY_COLUMNS],
                           "events", empty)
        if empty:
            shown = ", ".join(empty[:5]) + (f" (+{len(empty) - 5} more)" if len(empty) > 5 else "")
            warnings.warn(f"{len(empty):,} column(s) have no values in the training rows and are left out of the "
                          f"features: {shown}", UserWarning, stacklevel=2)
        self.history_ = "timestamp" in events.columns and "user_id" in events.columns and \
            bool(events["timestamp"].notna().all())
        beh = events[beh_cols]
        self.behaviour_ = fit_columns(beh, beh_cols, self.max_levels)
        self.sessions_ = session_table(events) if self.history_ else None
        self.review_scope_ = "event" if ds.meta.get("review_scope") == "event" else "item"
        self.projections_ = {}
        for key, emb in (embeddings or {}).items():
            if key not in EMBEDDING_KEYS:
                continue
            keep = emb.mask & self._catalogue_rows(ds, key, events, projection)
            self.projections_[key] = Projection.fit(emb.vectors[keep], self.embedding_dim, emb.encoder)
        return self

    def _catalogue_rows(self, ds: Dataset, key: str, events: pd.DataFrame, projection: str) -> np.ndarray:
        table = ds.table(key.split(".")[0])
        if projection == "catalogue":
            return np.ones(len(table), bool)
        if key.startswith("reviews.") and self.review_scope_ == "event":
            return table["review_id"].astype(str).isin(events["session_id"].astype(str)).to_numpy()
        return table["item_id"].astype(str).isin(events["item_id"].astype(str)).to_numpy()

    @property
    def encoders(self) -> dict[str, str]:
        """Encoder (name-version) of each embedding the featurizer was fitted with."""
        return {k: p.encoder for k, p in self.projections_.items()}

    # ---- transform ----
    def transform(self, ds: Dataset, embeddings: dict[str, Embeddings] | None = None, keep_text: bool = False,
                  history: pd.DataFrame | None = None, rows: np.ndarray | None = None) -> ModalityData:
        """Modality blocks for the events of ``ds`` (or its ``rows``) with the fitted state; fits nothing.

        ``history`` (from :meth:`history_for`) lets a caller compute user history once over the whole table and
        transform it in chunks. Values of categories never seen in fit are counted in the result's ``unseen``.
        """
        check_is_fitted(self)
        events = ds.table("events").reset_index(drop=True)
        if history is None and self.history_:
            history = self.history_for(events)
        if rows is not None:
            rows = np.asarray(rows)
            events = events.iloc[rows].reset_index(drop=True)
            history = history.iloc[rows].reset_index(drop=True) if history is not None else None
        embeddings = self._check_embeddings(embeddings or {})
        item_rows, user_rows = _joined(ds, events)
        n = len(events)
        blocks, names, present, kinds, unseen = {}, {}, {}, {}, {}

        def add(name: str, block: np.ndarray | RowBlock, cols: list[str], kind: str, rows_present: np.ndarray | None = None):
            if block.shape[1] == 0:
                return
            blocks[name], names[name], kinds[name] = block, cols, kind
            present[name] = np.ones(n, bool) if rows_present is None else rows_present

        add("offer", encode(item_rows, self.offer_, "items", unseen), output_names(self.offer_), "tabular")
        if self.consumer_:
            if user_rows is None:
                raise InvalidInputError("the model was fitted with user attributes (a users table and "
                                        "events.user_id); this data has none")
            add("consumer", encode(user_rows, self.consumer_, "users", unseen), output_names(self.consumer_),
                "tabular")
        beh_block = encode(events, self.behaviour_, "events", unseen)
        beh_names = output_names(self.behaviour_)
        if self.history_:
            if history is None:  # scoring data without timestamps: history unknown, not zero
                history = pd.DataFrame(np.nan, index=range(n), columns=HISTORY_NAMES)
            beh_block = np.concatenate([beh_block, history[HISTORY_NAMES].to_numpy(np.float32)], axis=1)
            beh_names = beh_names + HISTORY_NAMES
        add("behaviour", beh_block, beh_names, "tabular")
        self._add_embeddings(ds, events, embeddings, add)
        meta = pd.DataFrame({"session_id": events["session_id"].astype(str),
                             "item_id": events["item_id"].astype(str)})
        meta["user_id"] = events["user_id"].astype(str) if "user_id" in events.columns else meta["session_id"]
        meta["country"] = (user_rows["country"].to_numpy() if user_rows is not None and "country" in user_rows.columns
                           else pd.Series([None] * n, dtype=object))
        if "timestamp" in events.columns:
            meta["timestamp"] = pd.to_datetime(events["timestamp"]).to_numpy()
        if keep_text:
            meta["text"] = event_texts(ds, events).to_numpy()
        y = events["purchased"].to_numpy(np.int64) if "purchased" in events.columns else np.zeros(n, np.int64)
        return ModalityData(blocks=blocks, names=names, present=present, y=y, meta=meta, kinds=kinds, unseen=unseen)

    def history_for(self, events: pd.DataFrame) -> pd.DataFrame | None:
        """User history of every event (stored fit-time sessions + these events' own sessions), or None."""
        index = self.history_index()
        if index is None:
            return None
        index.add(events)
        lookup = index.build()
        return None if lookup is None else lookup.lookup(events)

    def history_index(self) -> SessionIndex | None:
        """A :class:`~culturecart.models.history.SessionIndex` holding the fit-time sessions, to which a caller adds
        the scoring data batch by batch (None when the featurizer uses no history)."""
        return SessionIndex(self.sessions_) if self.history_ else None

    def _check_embeddings(self, embeddings: dict[str, Embeddings]) -> dict[str, Embeddings]:
        for key, emb in embeddings.items():
            fitted = self.projections_.get(key)
            if fitted is not None and fitted.encoder and emb.encoder != fitted.encoder:
                raise InvalidInputError(f"{key} was embedded with {emb.encoder!r}, but the model was fitted on "
                                        f"{fitted.encoder!r} embeddings; encode with the same encoder and version")
        return {k: self.projections_[k].apply(v) for k, v in embeddings.items() if k in self.projections_}

    def _add_embeddings(self, ds: Dataset, events: pd.DataFrame, embeddings: dict[str, Embeddings], add) -> None:
        """The text and image blocks, one table row per item (per event where each event has its own review)."""
        n = len(events)
        codes, items = pd.factorize(events["item_id"].astype(str).to_numpy())
        per_event = "reviews.text" in self.projections_ and self.review_scope_ == "event"
        text_rows, text_items = (np.arange(n), events["item_id"].astype(str).to_numpy()) if per_event \
            else (codes, items)
        text_parts, text_names, text_present = [], [], np.zeros(len(text_items), bool)
        if "items.title" in self.projections_:
            vec, ok = _lookup(embeddings.get("items.title"), self._dim("items.title"), text_items, ds.items)
            text_parts.append(vec)
            text_names += [f"title_{i}" for i in range(vec.shape[1])]
            text_present |= ok
        if "reviews.text" in self.projections_:
            dim = self._dim("reviews.text")
            emb = embeddings.get("reviews.text")
            if emb is not None and ds.reviews is not None:
                key = "review_id" if per_event else "item_id"
                frame = pd.DataFrame(np.where(emb.mask[:, None], emb.vectors, np.nan))
                frame[key] = ds.reviews[key].astype(str).to_numpy()
                means = frame.groupby(key).mean()
                lookup = events["session_id"].astype(str).to_numpy() if per_event else text_items
                vec = means.reindex(lookup).to_numpy(np.float32)
            else:
                vec = np.full((len(text_items), dim), np.nan, np.float32)
            text_parts.append(vec)
            text_names += [f"review_{i}" for i in range(vec.shape[1])]
            text_present |= ~np.isnan(vec).any(axis=1)
        if text_parts:
            add("text", RowBlock(np.concatenate(text_parts, axis=1), text_rows), text_names, "embedding",
                text_present[text_rows])
        if "items.image_path" in self.projections_:
            vec, ok = _lookup(embeddings.get("items.image_path"), self._dim("items.image_path"), items, ds.items)
            add("image", RowBlock(vec, codes), [f"image_{i}" for i in range(vec.shape[1])], "embedding", ok[codes])

    def _dim(self, key: str) -> int:
        return self.projections_[key].dim

    # ---- persistence (arrays only) ----
    def _save_state(self, folder: Path) -> dict:
        save_npz(folder / "featurizer.npz", self.to_arrays())
        return {}

    @classmethod
    def _from_state(cls, config: FeaturizerConfig, state: dict, files: Files) -> Featurizer:
        return cls.from_arrays(files.npz("featurizer.npz"))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything the featurizer learned, as NumPy arrays (strings as unicode arrays; no objects)."""
        out: dict[str, np.ndarray] = {
            "version": np.array(FEATURIZER_VERSION), "max_levels": np.array(self.max_levels),
            "embedding_dim": np.array(-1 if self.embedding_dim is None else self.embedding_dim),
            "history": np.array(self.history_), "review_scope": np.array(self.review_scope_)}
        for block in ("offer", "consumer", "behaviour"):
            specs: list[ColumnSpec] = getattr(self, f"{block}_")
            out[f"{block}.names"] = np.array([s.name for s in specs], dtype=str)
            out[f"{block}.kinds"] = np.array([s.kind for s in specs], dtype=str)
            out[f"{block}.transforms"] = np.array([s.transform or "" for s in specs], dtype=str)
            out[f"{block}.other"] = np.array([s.other for s in specs], dtype=bool)
            for i, s in enumerate(specs):
                out[f"{block}.levels.{i}"] = np.array(s.levels, dtype=str)
        out["projections"] = np.array(list(self.projections_), dtype=str)
        for key, p in self.projections_.items():
            out[f"proj.{key}.encoder"] = np.array(p.encoder)
            out[f"proj.{key}.dim"] = np.array(p.dim)
            if p.components is not None:
                out[f"proj.{key}.mean"], out[f"proj.{key}.components"] = p.mean, p.components
        if self.sessions_ is not None:
            s = self.sessions_
            out["sessions.user_id"] = s["user_id"].astype(str).to_numpy(dtype=str)
            out["sessions.session_id"] = s["session_id"].astype(str).to_numpy(dtype=str)
            out["sessions.start"] = s["start"].to_numpy("datetime64[ns]").astype(np.int64)
            out["sessions.bought"] = s["bought"].to_numpy(float)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Featurizer:
        if int(a["version"]) != FEATURIZER_VERSION:
            raise InvalidInputError(f"featurizer state version {int(a['version'])} is not the supported "
                                    f"{FEATURIZER_VERSION}; fit the model again with this culturecart")
        dim = int(a["embedding_dim"])
        f = cls(max_levels=int(a["max_levels"]), embedding_dim=None if dim < 0 else dim)
        f.offer_ = []
        for block in ("offer", "consumer", "behaviour"):
            specs = []
            for i, (name, kind, tr, other) in enumerate(zip(a[f"{block}.names"], a[f"{block}.kinds"],
                                                            a[f"{block}.transforms"], a[f"{block}.other"],
                                                            strict=True)):
                specs.append(ColumnSpec(str(name), str(kind), str(tr) or None,
                                        [str(v) for v in a[f"{block}.levels.{i}"]], bool(other)))
            setattr(f, f"{block}_", specs)
        f.history_, f.review_scope_ = bool(a["history"]), str(a["review_scope"])
        for key in (str(k) for k in a["projections"]):
            f.projections_[key] = Projection(int(a[f"proj.{key}.dim"]), a.get(f"proj.{key}.mean"),
                                             a.get(f"proj.{key}.components"), str(a[f"proj.{key}.encoder"]))
        if "sessions.user_id" in a:
            f.sessions_ = pd.DataFrame({"user_id": a["sessions.user_id"].astype(object),
                                        "session_id": a["sessions.session_id"].astype(object),
                                        "start": pd.to_datetime(a["sessions.start"]),
                                        "bought": a["sessions.bought"]})
        return f


def _usable(frame: pd.DataFrame, columns: list[str], table: str, empty: list[str]) -> list[str]:
    """``columns`` that hold at least one value; the others are noted in ``empty`` as ``table.column``."""
    if not columns:
        return columns
    has = frame[columns].notna().any(axis=0)
    empty += [f"{table}.{c}" for c in has.index[~has.to_numpy()]]
    return [c for c in columns if has[c]]


def _joined(ds: Dataset, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Item and user attributes aligned to ``events`` (users None when there are no users or user ids)."""
    items = ds.items.drop_duplicates("item_id").set_index("item_id") if ds.items is not None else pd.DataFrame()
    item_rows = items.reindex(events["item_id"].astype(str)).reset_index(drop=True)
    users = ds.users.drop_duplicates("user_id").set_index("user_id") if ds.users is not None else pd.DataFrame()
    if "user_id" not in events.columns or users.empty:
        return item_rows, None
    return item_rows, users.reindex(events["user_id"].astype(str)).reset_index(drop=True)


def _lookup(emb: Embeddings | None, dim: int, ids: np.ndarray, items: pd.DataFrame | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each event's item vector (looked up per item, NaN and absent where the item has none)."""
    if emb is None or items is None:
        return np.full((len(ids), dim), np.nan, np.float32), np.zeros(len(ids), bool)
    pos = pd.Index(items["item_id"].astype(str)).get_indexer(ids)
    vec = np.full((len(ids), emb.dim), np.nan, np.float32)
    ok = pos >= 0
    vec[ok] = emb.vectors[pos[ok]]
    present = np.zeros(len(ids), bool)
    present[ok] = emb.mask[pos[ok]]
    return vec, present
