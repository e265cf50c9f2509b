"""A learned match scorer: gradient-boosted trees on candidate pairs, the recipe's last step.

Thresholding each component separately and taking the union throws away how the components agree: a
pair with a middling title similarity *and* a close phash is a match more often than either number says
alone, and what counts as "close" depends on how crowded each listing's neighbourhood is. The scorer
learns that from the labelled inner folds, as the top Shopee solutions did with GBDTs on candidate pairs.

Candidates: every unordered pair (i, j) where one is among the other's top-k neighbours in any
component of the union it replaces (``comb`` included) with a similarity of at least that component's
``FLOORS`` value (loose: on Shopee they keep ~93% of the true pairs at ~13 candidates per listing).
Features, symmetric in i and j: the cosine similarity in every dense view (pretrained text, ArcFace,
image side, comb before and after INB), the TF-IDF similarity where either lists the other (missing
otherwise), and each listing's neighbourhood density per component (similarity of its nearest other,
mean of its ten nearest) as the pair's min and max.
Matches: the pairs whose probability is at least ``threshold`` (in both directions), and, like min2,
each listing's most probable candidate when it reaches the looser ``min2``. Both are tuned on
out-of-fold probabilities: the scorer of each inner fold is trained on the other inner folds.

Example:
    >>> import numpy as np
    >>> a, b = np.array([0, 1]), np.array([1, 2])
    >>> rows, cols = pair_matches(a, b, np.array([0.9, 0.2]), threshold=0.5)
    >>> sorted(zip(rows.tolist(), cols.tolist()))
    [(0, 1), (1, 0)]
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np

from culturecart.atomic import atomic_write_text
from culturecart.matching.neighbours import MAX_MATCHES, pairs_f1
from culturecart.parallel import thread_budget
from culturecart.persist import Files

if TYPE_CHECKING:
    from culturecart.matching.config import Steps
    from culturecart.matching.views import Views

FLOORS = {"tfidf": 0.3, "text": 0.6, "arcface": 0.3, "image": 0.5, "phash": 0.8, "comb": 0.3}
THRESHOLDS = np.round(np.arange(0.2, 0.81, 0.025), 3)
MIN2 = np.round(np.arange(0.05, 0.8, 0.025), 3)
PARAMS = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 63, "min_child_samples": 50,
          "deterministic": True, "force_row_wise": True, "verbosity": -1}
ROUNDS = 300
CHUNK = 100_000


@dataclass
class PairSet:
    """Candidate pairs ``a[i] < b[i]`` among ``n`` listings and their feature matrix."""

    a: np.ndarray
    b: np.ndarray
    x: np.ndarray
    names: list[str]
    n: int


def _dedup(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)  # sort + diff: numpy 2.4's hash-based np.unique is much slower
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def candidates(lists: dict[str, tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs (a < b) listed by any component above its floor."""
    keys = [np.zeros(0, np.int64)]
    rows = np.arange(n)[:, None]
    for c, (s, i) in lists.items():
        ok = (s >= FLOORS.get(c, 0.5)) & (i != rows)
        a, b = np.broadcast_to(rows, i.shape)[ok], i[ok]
        keys.append(np.minimum(a, b) * n + np.maximum(a, b))
    k = _dedup(np.concatenate(keys))
    return k // n, k % n


def listed_similarity(sims: np.ndarray, idx: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity of b in a's list or of a in b's list; NaN where neither lists the other."""
    n = len(idx)
    key = (np.arange(n)[:, None] * n + idx).ravel()
    order = np.argsort(key, kind="stable")
    keys, values = key[order], sims.ravel()[order]
    out = np.full(len(a), np.nan, np.float32)
    if not len(keys):
        return out
    for q in (a * n + b, b * n + a):
        pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
        hit = (keys[pos] == q) & np.isnan(out)
        out[hit] = values[pos[hit]]
    return out


def _dot(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(len(a), np.float32)
    for s in range(0, len(a), CHUNK):
        out[s:s + CHUNK] = np.einsum("nd,nd->n", x[a[s:s + CHUNK]], x[b[s:s + CHUNK]])
    return out


def pair_set(views: Views, thresholds: dict[str, float], steps: Steps) -> PairSet:
    """Candidates and features of one set of listings.

    The candidates come from the neighbour lists of the components the union would read
    (``steps.components``) and the comb's; the cosine features from every dense view in ``views``.
    """
    weight = thresholds.get("image_weight", 1.0)
    lists = {c: views.neighbours[c] for c in steps.components
             if c in views.neighbours and (c != "arcface" or steps.arcface)}
    blended, lists["comb"] = views.comb_with_vectors(thresholds.get("inb"), steps.inb_stages, steps.arcface, weight)
    a, b = candidates(lists, views.n)
    feats: dict[str, np.ndarray] = {}
    dense = {**views.text_sides, "image": views.image_side,
             "comb": views.comb_vectors(None, 0, steps.arcface, weight)}
    if steps.inb_stages:
        dense["comb_inb"] = blended
    for name, x in dense.items():
        feats[f"cos:{name}"] = _dot(x, a, b)
    if "tfidf" in lists:
        feats["cos:tfidf"] = listed_similarity(*lists["tfidf"], a, b)
    for c, (s, _) in lists.items():
        if c == "phash":  # its density is the image side's hash bits again
            continue
        if s.shape[1] < 2:  # a single listing: no neighbours, and no candidates either
            continue
        for stat, v in (("nearest", s[:, 1]), ("mean10", s[:, 1:11].mean(axis=1))):
            feats[f"{c}:{stat}:min"] = np.minimum(v[a], v[b])
            feats[f"{c}:{stat}:max"] = np.maximum(v[a], v[b])
    x = np.column_stack(list(feats.values())).astype(np.float32) if len(a) else np.zeros((0, len(feats)), np.float32)
    return PairSet(a, b, x, list(feats), views.n)


def pair_matches(a: np.ndarray, b: np.ndarray, p: np.ndarray, threshold: float,
                 min2: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) matches in both directions: pairs at ``threshold``, and each row's best at ``min2``."""
    rows, cols, _ = _matched(a, b, p, threshold, min2)
    return rows, cols


def _matched(a: np.ndarray, b: np.ndarray, p: np.ndarray, threshold: float,
             min2: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`pair_matches`, with the index of each match's pair."""
    both = np.r_[np.arange(len(a)), np.arange(len(a))]
    r, c, q = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([p, p])
    chosen = [np.flatnonzero(q >= threshold)]
    if min2 is not None and len(p):
        order = np.lexsort((-q, r))
        first = order[np.r_[True, r[order][1:] != r[order][:-1]]]
        chosen.append(first[(q[first] >= min2) & (q[first] < threshold)])
    pick = np.concatenate(chosen)
    return r[pick], c[pick], both[pick]


def match_lists(n: int, rows: np.ndarray, cols: np.ndarray, p_of_pair: np.ndarray) -> list[list[int]]:
    """Each row itself first, then its matches by falling probability, at most ``MAX_MATCHES``."""
    order = np.lexsort((-p_of_pair, rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n + 1))
    out = []
    for i in range(n):
        seen = dict.fromkeys([i, *cols[starts[i]:starts[i + 1]].tolist()])
        out.append(list(seen)[:MAX_MATCHES])
    return out


@dataclass
class PairScorer:
    """LightGBM over candidate-pair features plus its two tuned probability thresholds."""

    names: list[str]
    threshold: float = 0.5
    min2: float | None = None
    booster: lgb.Booster | None = None

    @staticmethod
    def _train(sets: list[tuple[PairSet, np.ndarray]], seed: int) -> lgb.Booster:
        x = np.concatenate([s.x for s, _ in sets])
        y = np.concatenate([codes[s.a] == codes[s.b] for s, codes in sets]).astype(np.float32)
        if y.min() == y.max():
            raise ValueError("the pair scorer needs both matching and non-matching candidate pairs")
        return lgb.train({**PARAMS, "seed": seed, "num_threads": thread_budget()}, lgb.Dataset(x, y),
                         num_boost_round=ROUNDS)

    @classmethod
    def fit(cls, folds: list[tuple[PairSet, np.ndarray]], seed: int = 0) -> PairScorer:
        """Train on every fold's candidates; thresholds from out-of-fold probabilities (needs >= 2 folds)."""
        names = folds[0][0].names
        if any(s.names != names for s, _ in folds):
            raise ValueError("every fold's pair features must have the same columns")
        if len(folds) < 2:
            raise ValueError("the pair scorer needs at least 2 inner folds to tune its thresholds")
        oof = [cls._train([g for j, g in enumerate(folds) if j != f], seed).predict(s.x) if len(s.a) else s.x[:, 0]
               for f, (s, _) in enumerate(folds)]

        def f1(t: float, m2: float | None) -> float:
            return float(np.mean([pairs_f1([pair_matches(s.a, s.b, p, t, m2)], codes)
                                  for (s, codes), p in zip(folds, oof, strict=True)]))

        threshold = float(max(THRESHOLDS, key=lambda t: f1(float(t), None)))
        best, min2 = f1(threshold, None), None
        for m2 in MIN2[threshold > MIN2]:
            score = f1(threshold, float(m2))
            if score > best + 1e-6:
                best, min2 = score, float(m2)
        return cls(names, threshold, min2, cls._train(folds, seed))

    def predict(self, pairs: PairSet) -> np.ndarray:
        """P(same product) per candidate pair.

        Features the scorer was trained on but ``pairs`` lacks (e.g. the image encoder's, when predict gets
        no image folder) are passed as missing, which the trees route as they learned; a warning names them.
        """
        if not len(pairs.a):
            return np.zeros(0)
        column = {name: j for j, name in enumerate(pairs.names)}
        missing = [name for name in self.names if name not in column]
        if missing:
            warnings.warn(f"pair features {missing} are missing here (fitted with other components): "
                          "scored as missing values", stacklevel=2)
        x = np.full((len(pairs.a), len(self.names)), np.nan, np.float32)
        for j, name in enumerate(self.names):
            if name in column:
                x[:, j] = pairs.x[:, column[name]]
        return self.booster.predict(x)

    def match(self, pairs: PairSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, probability) of the matches in both directions."""
        p = self.predict(pairs)
        rows, cols, which = _matched(pairs.a, pairs.b, p, self.threshold, self.min2)
        return rows, cols, p[which]

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / "pair_scorer.txt", self.booster.model_to_string())
        atomic_write_text(folder / "pair_scorer.json", json.dumps(
            {"names": self.names, "threshold": self.threshold, "min2": self.min2}, indent=2))

    @classmethod
    def load(cls, files: Files | Path) -> PairScorer:
        """From a fitted folder's checked files (see :class:`culturecart.persist.Files`), or a folder."""
        files = files if isinstance(files, Files) else Files(Path(files), None)
        info = files.json("pair_scorer.json")
        return cls(info["names"], info["threshold"], info["min2"], files.lightgbm("pair_scorer.txt"))
