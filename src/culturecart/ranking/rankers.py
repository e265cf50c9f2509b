"""Rankers for cross-market recommendation, behind one contract.

Every ranker is fitted on a target market plus weighted source markets and scores (user, candidate) pairs
of the target market::

    ranker.fit(markets, target="de", sources={"fr": 1.0, "uk": 0.5})
    scores = ranker.score(users, items)          # one score per (user, item) pair; higher = better

Users are market-local (the same id in two markets is two people); items are shared by id across markets
(an ASIN is the same product everywhere), which is what lets a source market inform the target.

==============  ===========================================================================================
``popularity``  the item's weighted interaction count (Krichene & Rendle 2020: strong under sampled metrics)
``itemknn``     item-item cosine of co-occurrence over the included markets' users (Sarwar et al. 2001),
                summed over the target user's training items
``ease``        EASE (Steck 2019, WWW): closed-form item-item ridge regression with a zero diagonal, over the
                target's items; L2 strength ``l2``
``als``         implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) from the ``implicit``
                package; ``bpr`` the same package's BPR (Rendle et al. 2009)
==============  ===========================================================================================

The LambdaRank re-ranker lives in :mod:`culturecart.ranking.rerank`; :mod:`culturecart.ranking.registry` builds any
of them by name. Options are typed (each ranker's config; a misspelt option is an error that lists the valid ones).
Every ranker saves to a folder (``ranker.json``, the header of :mod:`culturecart.persist`, and ``.npz`` arrays),
never a pickle.

Example:
    >>> from culturecart.testing import toy_markets
    >>> m = toy_markets()
    >>> pop = Popularity().fit(m, "aa")
    >>> pop.score(["u1", "u1"], ["i1", "i9"]).tolist()
    [2.0, 0.0]
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from culturecart.errors import UsageError
from culturecart.persist import Files, Fitted, check_is_fitted, save_npz
from culturecart.ranking.markets import Markets

SEP = "\x1f"  # joins market and user id: users are market-local
BLOCK = 512  # users scored at a time (dense users x items block)


def interactions(markets: Markets, target: str, sources: Mapping[str, float] | Sequence[str] = (),
                 target_weight: float = 1.0) -> pd.DataFrame:
    """Training interactions of the target (``target_weight``) and the sources (their weights): user, item, weight.

    ``target_weight=0`` gives a source-only view (the target still supplies the users' histories when scoring).
    """
    weights = dict(sources) if isinstance(sources, Mapping) else {s: 1.0 for s in sources}
    weights.pop(target, None)
    parts = []
    for name, w in [(target, target_weight), *sorted(weights.items())]:
        if w <= 0:
            continue
        train = markets[name].train
        parts.append(pd.DataFrame({"user": name + SEP + train["userId"].astype(str),
                                   "item": train["itemId"].astype(str).to_numpy(), "weight": float(w)}))
    if not parts:
        return pd.DataFrame({"user": pd.Series(dtype=str), "item": pd.Series(dtype=str), "weight": pd.Series(dtype=float)})
    frame = pd.concat(parts, ignore_index=True)
    return frame.drop_duplicates(["user", "item"])


class RankerConfig(BaseModel):
    """Options every history-based ranker has."""

    model_config = ConfigDict(extra="forbid")

    target_weight: float = Field(1.0, ge=0, description="weight of the target market's own interactions (0: a "
                                                        "source-only view; the target still gives the histories)")


class ItemKNNConfig(RankerConfig):
    similarity: Literal["cosine", "jaccard"] = Field("cosine", description="cosine of the items' (weighted) user "
                                                                          "vectors, or Jaccard (IoU) of their users")


class UserKNNConfig(RankerConfig):
    neighbours: int = Field(100, ge=1, description="most similar users (of every included market) a score sums over")


class EASEConfig(RankerConfig):
    l2: float = Field(200.0, gt=0, description="L2 strength of the item-item ridge regression")


class ALSConfig(RankerConfig):
    factors: int = Field(64, ge=1)
    iterations: int = Field(15, ge=1)
    regularization: float = Field(0.05, ge=0)
    alpha: float = Field(10.0, gt=0, description="confidence scale of the interactions")
    seed: int = 0


class BPRConfig(RankerConfig):
    factors: int = Field(64, ge=1)
    iterations: int = Field(100, ge=1)
    alpha: float = Field(10.0, gt=0, description="scale of the interactions")
    seed: int = 0


def _weights(sources: Mapping[str, float] | Sequence[str]) -> dict[str, float]:
    return dict(sources) if isinstance(sources, Mapping) else {s: 1.0 for s in sources}


class Ranker(Fitted, ABC):
    """fit(markets, target, sources) / score(users, items) / save / load; options typed by ``config_class``."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[BaseModel]] = RankerConfig
    family_base: ClassVar[bool] = True  # migrates ranker folders of older versions
    fitted_attribute = "items_"
    cheap: ClassVar[bool] = True  # seconds on a market (the re-ranker: minutes)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            cls.kind = f"ranker:{cls.name}"

    def __init__(self, config: BaseModel | None = None, **options: object) -> None:
        self.config = self.make_config(config, **options)
        self.target_: str = ""
        self.sources_: dict[str, float] = {}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        fitted = f"; fitted for {self.target_!r} with sources {self.sources_}" if self.is_fitted() else "; not fitted"
        return f"{type(self).__name__}({opts}{fitted})"

    def _interactions(self, markets: Markets, target: str, sources) -> pd.DataFrame:
        self.target_, self.sources_ = target, {s: float(w) for s, w in _weights(sources).items() if s != target}
        return interactions(markets, target, sources, self.config.target_weight)

    @abstractmethod
    def fit(self, markets: Markets, target: str, sources: Mapping[str, float] | Sequence[str] = ()) -> Ranker:
        ...

    def score(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """One score per (user, item) pair of the target market; unknown users or items score 0."""
        check_is_fitted(self)
        return self._score(users, items)

    @abstractmethod
    def _score(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        ...

    def known(self, users: Sequence[str], items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which users and which items this ranker learned anything about (rows of each argument)."""
        check_is_fitted(self)
        users_known = _index(users, self.users_) >= 0 if hasattr(self, "users_") else np.ones(len(users), bool)
        return users_known, _index(items, self.items_) >= 0

    def labelled(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """Which (user, item) pairs are held-out positives of an evaluation run whose labels this ranker learned
        from (none: only :meth:`~culturecart.ranking.rerank.ReRanker.cross_fit` learns from them)."""
        return np.zeros(len(users), bool)

    def with_histories(self, markets: Markets) -> Ranker:
        """Score the users of ``markets[target]`` from their histories there, keeping what was learned.

        A model learned from part of the target's data (or only from the sources) then still reads each user's
        whole history as its query; rankers without user histories are unchanged.
        """
        return self

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        ...

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        ...

    def _save_state(self, folder: Path) -> dict:
        save_npz(folder / "arrays.npz", self._arrays())
        return {"target": self.target_, "sources": self.sources_}

    @classmethod
    def _from_state(cls, config: BaseModel, state: dict, files: Files) -> Ranker:
        ranker = cls(config)
        ranker.target_, ranker.sources_ = state["target"], dict(state.get("sources") or {})
        ranker._restore(files.npz("arrays.npz"))
        return ranker

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """``ranker.json`` (or ``xmarket.json`` beside ``ranker/``) of culturecart before the persistence contract."""
        if "name" not in raw and (folder / "ranker" / "ranker.json").is_file():  # an xmarket model folder
            from culturecart.persist import read_header

            inner = read_header(folder / "ranker")
            state = {**inner["state"], "sources": raw.get("sources") or {}}
            return {**inner, "state": state, "subfolder": "ranker"}
        params = dict(raw.get("params") or {})
        if raw["name"] == "rerank":
            params = {k: v for k, v in params.items() if k in ("trees", "factors", "negatives", "l2", "seed")}
            state = {"target": raw["target"], "sources": raw.get("weights") or {}, "profile": raw["profile"],
                     "bases": raw["bases"]}
        else:
            state = {"target": raw["target"], "sources": {}}
        return {"kind": f"ranker:{raw['name']}", "format": 0, "config": params, "state": state, "files": {}}


def _index(values: Sequence[str], known: np.ndarray) -> np.ndarray:
    """Positions of ``values`` in the sorted array ``known``; -1 where absent."""
    values = np.asarray(values, dtype=str)
    pos = np.searchsorted(known, values)
    pos = np.clip(pos, 0, max(len(known) - 1, 0))
    ok = (len(known) > 0) & (known[pos] == values) if len(known) else np.zeros(len(values), bool)
    return np.where(ok, pos, -1)


class Popularity(Ranker):
    """Weighted count of each item's interactions in the included markets."""

    name = "popularity"

    def fit(self, markets, target, sources=()):
        frame = self._interactions(markets, target, sources)
        counts = frame.groupby("item")["weight"].sum()
        self.items_ = np.asarray(counts.index, dtype=str)
        self.counts_ = counts.to_numpy(float)
        return self

    def _score(self, users, items):
        pos = _index(items, self.items_)
        return np.where(pos >= 0, self.counts_[np.maximum(pos, 0)], 0.0)

    def _arrays(self):
        return {"items": self.items_, "counts": self.counts_}

    def _restore(self, a):
        self.items_, self.counts_ = a["items"], a["counts"]


class _UserItem(Ranker):
    """Shared state: the target users' training histories and an item index."""

    def _histories(self, markets: Markets, target: str, items: np.ndarray) -> None:
        train = markets[target].train
        self.users_ = np.array(sorted(train["userId"].astype(str).unique()), dtype=str)
        rows = _index(train["userId"].astype(str).to_numpy(), self.users_)
        cols = _index(train["itemId"].astype(str).to_numpy(), items)
        ok = cols >= 0
        self.history_ = sp.csr_matrix((np.ones(ok.sum()), (rows[ok], cols[ok])), shape=(len(self.users_), len(items)))
        self.history_.data[:] = 1.0

    def with_histories(self, markets: Markets) -> _UserItem:
        self._histories(markets, self.target_, self.items_)
        return self

    def _pairs(self, users, items) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = _index(users, self.users_)
        i = _index(items, self.items_)
        return u, i, (u >= 0) & (i >= 0)

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores of every item for the target users at ``rows`` (len(rows) x n_items)."""
        raise NotImplementedError

    def _score(self, users, items):
        # Scores are computed per user for all items (a dense block of at most BLOCK users at a time) and then
        # gathered: per-pair products would materialise a (pairs x items) matrix.
        u, i, ok = self._pairs(users, items)
        out = np.zeros(len(u))
        if not ok.any():
            return out
        unique, order, bounds = _group_by_user(u, ok)
        for b in range(0, len(unique), BLOCK):
            block = self._user_scores(unique[b:b + BLOCK])
            lo, hi = bounds[b], bounds[min(b + BLOCK, len(unique))]
            sel = order[lo:hi]
            local = np.searchsorted(unique[b:b + BLOCK], u[sel])
            out[sel] = block[local, i[sel]]
        return out

    def _hist_arrays(self) -> dict[str, np.ndarray]:
        h = self.history_.tocoo()
        return {"users": self.users_, "items": self.items_, "h_row": h.row, "h_col": h.col}

    def _hist_restore(self, a: dict[str, np.ndarray]) -> None:
        self.users_, self.items_ = a["users"], a["items"]
        self.history_ = sp.csr_matrix((np.ones(len(a["h_row"])), (a["h_row"], a["h_col"])),
                                      shape=(len(self.users_), len(self.items_)))


def _group_by_user(u: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The known pairs grouped by user: the users (sorted), the pairs' positions in user order, and where each
    user's run of positions starts (with the end appended)."""
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(u[idx], kind="stable")]
    unique, starts = np.unique(u[order], return_index=True)
    return unique, order, np.append(starts, len(order))


def _matrix(frame: pd.DataFrame, items: np.ndarray) -> sp.csr_matrix:
    users = np.array(sorted(frame["user"].unique()), dtype=str)
    rows = _index(frame["user"].to_numpy(), users)
    cols = _index(frame["item"].to_numpy(), items)
    ok = cols >= 0
    return sp.csr_matrix((frame["weight"].to_numpy(float)[ok], (rows[ok], cols[ok])), shape=(len(users), len(items)))


class ItemKNN(_UserItem):
    """Cosine (or Jaccard) similarity of items' user vectors over the included markets; summed over the history."""

    name = "itemknn"
    config_class = ItemKNNConfig

    def fit(self, markets, target, sources=()):
        frame = self._interactions(markets, target, sources)
        self.items_ = np.array(sorted(set(frame["item"]) | set(markets[target].train["itemId"].astype(str))), str)
        x = _matrix(frame, self.items_)
        if self.config.similarity == "jaccard":  # |users of both| / |users of either|, on the binary matrix
            b = x.copy()
            b.data[:] = 1.0
            co = (b.T @ b).tocoo()
            counts = np.asarray(b.sum(axis=0)).ravel()
            union = counts[co.row] + counts[co.col] - co.data
            self.sim_ = sp.csr_matrix((co.data / np.maximum(union, 1e-12), (co.row, co.col)), shape=co.shape)
            self.sim_.setdiag(0.0)
            self.sim_.eliminate_zeros()
            self._histories(markets, target, self.items_)
            return self
        co = (x.T @ x).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        inv = sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0))
        self.sim_ = (inv @ co @ inv).tocsr()
        self.sim_.setdiag(0.0)
        self.sim_.eliminate_zeros()
        self._histories(markets, target, self.items_)
        return self

    def _user_scores(self, rows):
        return (self.history_[rows] @ self.sim_).toarray()

    def history_similarity(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """Per (user, item) pair: the maximum, mean and standard deviation of the item's similarity to each item of
        the user's history (the score is their sum; the maximum says whether one past item is a near twin, which a
        sum over a long history hides). NaN where the user or the item is unknown.

        Example:
            >>> from culturecart.testing import toy_markets
            >>> knn = ItemKNN().fit(toy_markets(), "aa", ["bb"])
            >>> knn.history_similarity(["u3", "u9"], ["i1", "i1"]).round(3).tolist()  # u3 has bought i2 only
            [[0.408, 0.408, 0.0], [nan, nan, nan]]
        """
        check_is_fitted(self)
        u, i, ok = self._pairs(users, items)
        out = np.full((len(u), 3), np.nan)
        unique, order, bounds = _group_by_user(u, ok)
        history = self.history_
        for k, user in enumerate(unique):
            sel = order[bounds[k]:bounds[k + 1]]
            past = history.indices[history.indptr[user]:history.indptr[user + 1]]
            if not len(past):
                continue
            block = self.sim_[i[sel]][:, past].toarray().T  # past items x candidates (the similarity is symmetric)
            out[sel] = np.column_stack([block.max(axis=0), block.mean(axis=0), block.std(axis=0)])
        return out

    def _arrays(self):
        s = self.sim_.tocoo()
        return {**self._hist_arrays(), "s_row": s.row, "s_col": s.col, "s_val": s.data}

    def _restore(self, a):
        self._hist_restore(a)
        n = len(self.items_)
        self.sim_ = sp.csr_matrix((a["s_val"], (a["s_row"], a["s_col"])), shape=(n, n))


class UserKNN(_UserItem):
    """User-kNN: a target user's ``neighbours`` most similar users (cosine of their item sets, over every included
    market: users of other markets are neighbours through the items they share) vote for their items."""

    name = "userknn"
    config_class = UserKNNConfig

    def fit(self, markets, target, sources=()):
        frame = self._interactions(markets, target, sources)
        self.items_ = np.array(sorted(set(frame["item"]) | set(markets[target].train["itemId"].astype(str))), str)
        x = _matrix(frame, self.items_)
        x.data[:] = 1.0
        norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
        self.neighbours_ = sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)) @ x  # rows: unit length
        self.neighbours_ = self.neighbours_.tocsr().astype(np.float32)
        self._histories(markets, target, self.items_)
        return self

    def _user_scores(self, rows):
        h = self.history_[rows]
        norms = np.sqrt(np.asarray(h.sum(axis=1)).ravel())
        query = sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)) @ h
        sim = (query @ self.neighbours_.T).toarray()  # block x every user of the scope
        k = min(self.config.neighbours + 1, sim.shape[1])
        if k < sim.shape[1]:
            cut = np.partition(sim, -k, axis=1)[:, -k][:, None]
            sim = np.where(sim >= cut, sim, 0.0)
        sim[np.isclose(sim, 1.0)] = 0.0  # the user themself (and exact copies): a vote for what they already have
        return (sp.csr_matrix(sim) @ self.neighbours_).toarray().astype(np.float64)

    def _arrays(self):
        n = self.neighbours_.tocoo()
        return {**self._hist_arrays(), "n_row": n.row, "n_col": n.col, "n_val": n.data,
                "n_shape": np.array(n.shape)}

    def _restore(self, a):
        self._hist_restore(a)
        self.neighbours_ = sp.csr_matrix((a["n_val"], (a["n_row"], a["n_col"])), shape=tuple(a["n_shape"]))


_EASE_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()  # the last few inverted item x item systems


class EASE(_UserItem):
    """EASE^R (Steck 2019): B = I - P / diag(P), P = (X'X + l2 I)^-1, over the target market's items."""

    name = "ease"
    config_class = EASEConfig

    def fit(self, markets, target, sources=()):
        frame = self._interactions(markets, target, sources)
        items = np.array(sorted(markets[target].train["itemId"].astype(str).unique()), dtype=str)
        l2 = float(self.config.l2)
        key = (l2, hashlib.sha1(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest(),
               hashlib.sha1(items.tobytes()).hexdigest())
        if key not in _EASE_CACHE:  # the same scope data recur (the target alone, in every scope): invert once
            x = _matrix(frame, items)
            gram = (x.T @ x).toarray()
            gram[np.diag_indices_from(gram)] += l2
            p = np.linalg.inv(gram)
            weights = (-p / np.diag(p)).astype(np.float32)
            weights[np.diag_indices_from(weights)] = 0.0
            _EASE_CACHE[key] = weights
            while len(_EASE_CACHE) > 4:
                _EASE_CACHE.popitem(last=False)
        self.weights_ = _EASE_CACHE[key]
        self.items_ = items
        self._histories(markets, target, self.items_)
        return self

    def _user_scores(self, rows):
        return np.asarray(self.history_[rows] @ self.weights_)

    def _arrays(self):
        return {**self._hist_arrays(), "weights": self.weights_}

    def _restore(self, a):
        self._hist_restore(a)
        self.weights_ = a["weights"]


class MatrixFactorisation(_UserItem):
    """ALS or BPR from the ``implicit`` package on the weighted user x item matrix of the included markets."""

    name = "als"
    algorithm: ClassVar[str] = "als"
    config_class = ALSConfig

    def fit(self, markets, target, sources=()):
        from threadpoolctl import threadpool_limits

        frame = self._interactions(markets, target, sources)
        items = np.array(sorted(set(frame["item"]) | set(markets[target].train["itemId"].astype(str))), str)
        all_users = np.array(sorted(frame["user"].unique()), dtype=str)
        x = _matrix(frame, items)
        c = self.config
        with threadpool_limits(1, "blas"):  # implicit warns (and slows) when BLAS also runs threads
            if self.algorithm == "bpr":
                from implicit.cpu.bpr import BayesianPersonalizedRanking as Model

                model = Model(factors=c.factors, iterations=c.iterations, random_state=c.seed, num_threads=1)
            else:
                from implicit.cpu.als import AlternatingLeastSquares as Model

                model = Model(factors=c.factors, regularization=c.regularization, iterations=c.iterations,
                              random_state=c.seed, num_threads=1)
            model.fit(x * float(c.alpha), show_progress=False)
        self.items_ = items
        target_users = np.char.add(target + SEP, np.array(sorted(markets[target].train["userId"].astype(str)
                                                                  .unique()), dtype=str))
        rows = _index(target_users, all_users)
        self.user_factors_ = np.asarray(model.user_factors)[rows].astype(np.float32)
        self.item_factors_ = np.asarray(model.item_factors).astype(np.float32)
        self._histories(markets, target, self.items_)
        return self

    def with_histories(self, markets: Markets) -> MatrixFactorisation:
        raise UsageError(f"{self.name} learns a factor per training user: it cannot score users from histories it "
                         "was not fitted on (use itemknn, ease or popularity)")

    def _user_scores(self, rows):
        return self.user_factors_[rows] @ self.item_factors_.T

    def _arrays(self):
        return {**self._hist_arrays(), "user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _restore(self, a):
        self._hist_restore(a)
        self.user_factors_, self.item_factors_ = a["user_factors"], a["item_factors"]


class BPR(MatrixFactorisation):
    name = "bpr"
    algorithm = "bpr"
    config_class = BPRConfig
