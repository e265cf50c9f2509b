"""Next-item recommendation from sessions: popularity and co-visitation (item-to-item) baselines.

Co-visitation counts how often item ``b`` follows item ``a`` within ``window`` steps of a session
(forward weight ``1 / gap``, backward ``backward_weight / gap``), keeps each item's ``top_n`` neighbours,
and scores candidates for a session by summing its last ``recent`` items' neighbour weights, the most
recent item weighted most (``decay ** age``); popularity in the training sessions fills the rest of the
list. Items already in the session are never recommended (Amazon-M2's next item never repeats one).
Such heuristics are strong on Amazon-M2 (Jin et al. 2023, NeurIPS Datasets & Benchmarks).

Example:
    >>> rec = CoVisitation().fit([["a", "b", "c"], ["a", "b", "d"], ["x", "b", "c"]])
    >>> rec.recommend([["a", "b"]], k=2)[0]
    ['c', 'd']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from culturecart.persist import Files, Fitted, check_is_fitted, save_npz


def _pairs(sessions: Sequence[Sequence[str]], window: int, backward_weight: float) -> pd.DataFrame:
    lengths = np.array([len(s) for s in sessions])
    flat = np.array([i for s in sessions for i in s], dtype=object)
    sid = np.repeat(np.arange(len(sessions)), lengths)
    pos = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, int)
    frames = []
    for gap in range(1, window + 1):
        ok = np.flatnonzero((pos[:-gap] + gap < np.repeat(lengths, lengths)[:-gap]) & (sid[:-gap] == sid[gap:]))
        src, dst = flat[ok], flat[ok + gap]
        frames.append(pd.DataFrame({"src": src, "dst": dst, "w": 1.0 / gap}))
        if backward_weight:
            frames.append(pd.DataFrame({"src": dst, "dst": src, "w": backward_weight / gap}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["src", "dst", "w"])


def ranked_lists(ordered: pd.DataFrame, histories: Sequence[Sequence[str]], popular: Sequence[str],
                 k: int) -> list[list[str]]:
    """Each history's first ``k`` items of ``ordered`` (columns q, item; best first within q), then the
    ``popular`` items it does not hold yet."""
    by_q = dict(iter(ordered.groupby("q", sort=False)["item"]))
    out = []
    for q, h in enumerate(histories):
        ranked = by_q[q].tolist()[:k] if q in by_q else []
        if len(ranked) < k:
            taken = set(ranked) | set(h)
            ranked += [i for i in popular if i not in taken][:k - len(ranked)]
        out.append(ranked)
    return out


class CoVisitationConfig(BaseModel):
    """How co-visits are counted and read (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(3, ge=1, description="steps within which a later item counts as co-visited")
    backward_weight: float = Field(0.5, ge=0, description="weight of co-visits backwards (relative to forwards)")
    top_n: int = Field(100, ge=1, description="neighbours kept per item")
    recent: int = Field(3, ge=1, description="the session's last items that score candidates")
    decay: float = Field(0.6, gt=0, le=1, description="weight per step back of those items")


class _SessionModel(Fitted):
    """Shared by the session models: ``fit(sessions)`` / ``recommend(histories, k)``, saved as ``session.json``."""

    fitted_attribute = "popular_"

    def __init__(self, config: BaseModel | None = None, **options: object) -> None:
        self.config = self.make_config(config, **options)
        self.popular_: list[str] | None = None

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({opts}{'' if self.is_fitted() else '; not fitted'})"


class CoVisitation(_SessionModel):
    kind = "session:covisitation"
    config_class = CoVisitationConfig

    def fit(self, sessions: Sequence[Sequence[str]]) -> CoVisitation:
        """Count co-visits in ``sessions`` (each a list of item ids in order, target included)."""
        c = self.config
        pairs = _pairs(sessions, c.window, c.backward_weight)
        pairs = pairs[pairs["src"] != pairs["dst"]]
        weights = pairs.groupby(["src", "dst"], sort=False)["w"].sum().reset_index()
        weights = weights.sort_values(["src", "w", "dst"], ascending=[True, False, True], kind="stable")
        self.neighbours_ = weights.groupby("src", sort=False).head(c.top_n)
        counts = pd.Series([i for s in sessions for i in s]).value_counts(sort=False)
        self.popular_ = counts.sort_values(ascending=False, kind="stable").index[:max(c.top_n, 100)].tolist()
        return self

    def scores(self, histories: Sequence[Sequence[str]]) -> pd.DataFrame:
        """Every co-visited item of each history with its score: columns q (the history's position), item, score;
        items already in the history are left out; sorted by q, then score (highest first), then item."""
        check_is_fitted(self)
        c = self.config
        rows = [(q, item, c.decay ** age) for q, h in enumerate(histories)
                for age, item in enumerate(reversed(list(h)[-c.recent:]))]
        query = pd.DataFrame(rows, columns=["q", "src", "r"])
        scored = query.merge(self.neighbours_, on="src", how="inner")
        scored["s"] = scored["r"] * scored["w"]
        out = scored.groupby(["q", "dst"], sort=False)["s"].sum().reset_index()
        out.columns = ["q", "item", "score"]
        seen = pd.DataFrame([(q, i) for q, h in enumerate(histories) for i in set(h)], columns=["q", "item"])
        out = out.merge(seen.assign(_seen=True), on=["q", "item"], how="left")
        out = out[out["_seen"].isna()].drop(columns="_seen")
        return out.sort_values(["q", "score", "item"], ascending=[True, False, True], kind="stable").reset_index(
            drop=True)

    def recommend(self, histories: Sequence[Sequence[str]], k: int = 100) -> list[list[str]]:
        """Top ``k`` items for each history (most likely next item first)."""
        return ranked_lists(self.scores(histories), histories, self.popular_, k)

    def _save_state(self, folder: Path) -> dict:
        n = self.neighbours_
        save_npz(folder / "arrays.npz", {"src": n["src"].astype(str).to_numpy(dtype=str),
                                         "dst": n["dst"].astype(str).to_numpy(dtype=str),
                                         "w": n["w"].to_numpy(float), "popular": np.array(self.popular_, dtype=str)})
        return {}

    @classmethod
    def _from_state(cls, config: CoVisitationConfig, state: dict, files: Files) -> CoVisitation:
        a = files.npz("arrays.npz")
        model = cls(config)
        model.neighbours_ = pd.DataFrame({"src": a["src"].astype(object), "dst": a["dst"].astype(object),
                                          "w": a["w"]})
        model.popular_ = a["popular"].astype(object).tolist()
        return model


class PopularityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: int = Field(1000, ge=1, description="most frequent items kept")


class Popularity(_SessionModel):
    """The training sessions' most frequent items, minus those already in the session."""

    kind = "session:popularity"
    config_class = PopularityConfig

    def fit(self, sessions: Sequence[Sequence[str]]) -> Popularity:
        counts = pd.Series([i for s in sessions for i in s]).value_counts(sort=False)
        self.popular_ = counts.sort_values(ascending=False, kind="stable").index[:self.config.keep].tolist()
        return self

    def recommend(self, histories: Sequence[Sequence[str]], k: int = 100) -> list[list[str]]:
        check_is_fitted(self)
        return [[i for i in self.popular_ if i not in set(h)][:k] for h in histories]

    def _save_state(self, folder: Path) -> dict:
        return {"popular": [str(i) for i in self.popular_]}

    @classmethod
    def _from_state(cls, config: PopularityConfig, state: dict, files: Files) -> Popularity:
        model = cls(config)
        model.popular_ = list(state["popular"])
        return model
