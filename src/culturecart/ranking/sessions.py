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
from dataclasses import dataclass

import numpy as np
import pandas as pd


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


@dataclass
class CoVisitation:
    window: int = 3
    backward_weight: float = 0.5
    top_n: int = 100
    recent: int = 3
    decay: float = 0.6

    def fit(self, sessions: Sequence[Sequence[str]]) -> CoVisitation:
        """Count co-visits in ``sessions`` (each a list of item ids in order, target included)."""
        pairs = _pairs(sessions, self.window, self.backward_weight)
        pairs = pairs[pairs["src"] != pairs["dst"]]
        weights = pairs.groupby(["src", "dst"], sort=False)["w"].sum().reset_index()
        weights = weights.sort_values(["src", "w", "dst"], ascending=[True, False, True], kind="stable")
        self.neighbours_ = weights.groupby("src", sort=False).head(self.top_n)
        counts = pd.Series([i for s in sessions for i in s]).value_counts(sort=False)
        self.popular_ = counts.sort_values(ascending=False, kind="stable").index[:max(self.top_n, 100)].tolist()
        return self

    def scores(self, histories: Sequence[Sequence[str]]) -> pd.DataFrame:
        """Every co-visited item of each history with its score: columns q (the history's position), item, score;
        items already in the history are left out; sorted by q, then score (highest first), then item."""
        rows = [(q, item, self.decay ** age) for q, h in enumerate(histories)
                for age, item in enumerate(reversed(list(h)[-self.recent:]))]
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


@dataclass
class Popularity:
    """The training sessions' most frequent items, minus those already in the session."""

    def fit(self, sessions: Sequence[Sequence[str]]) -> Popularity:
        counts = pd.Series([i for s in sessions for i in s]).value_counts(sort=False)
        self.popular_ = counts.sort_values(ascending=False, kind="stable").index[:1000].tolist()
        return self

    def recommend(self, histories: Sequence[Sequence[str]], k: int = 100) -> list[list[str]]:
        return [[i for i in self.popular_ if i not in set(h)][:k] for h in histories]
