"""Thresholds, min2, INB and the union (or the pair scorer) over the views: matches, their F1, and the tuning.

``Steps`` says which parts make the final matches (the benchmark's ladder switches them on one by one). With
``pair_model`` (the default) a learned scorer on candidate pairs (:mod:`culturecart.matching.pairs`) reads the
union's neighbour lists and every dense view, and replaces the thresholded union. Every threshold is tuned by
coordinate ascent on mean F1 over validation folds.
"""

from __future__ import annotations

import numpy as np

from culturecart.matching.config import Steps
from culturecart.matching.neighbours import as_lists, match_mask, pairs_f1, union
from culturecart.matching.pairs import PairScorer, match_lists, pair_set
from culturecart.matching.views import Views

GRIDS = {
    "tfidf": np.round(np.arange(0.30, 0.96, 0.025), 3), "text": np.round(np.arange(0.40, 0.99, 0.02), 3),
    "arcface": np.round(np.arange(0.20, 0.96, 0.025), 3), "image": np.round(np.arange(0.40, 0.99, 0.02), 3),
    "comb": np.round(np.arange(0.20, 0.96, 0.025), 3), "phash": np.round(1 - np.arange(0, 21) / 64, 4),
    "min2": np.round(np.arange(0.10, 0.80, 0.05), 3), "inb": np.round(np.arange(0.30, 0.91, 0.1), 3),
    "image_weight": np.array([0.4, 0.5, 0.6, 0.7, 0.85, 1.0]),
}
START = {"min2": 0.5, "inb": 0.6, "image_weight": 1.0}
SETTINGS = tuple(START)  # tuned like thresholds, but not a component's own threshold


def _component_pairs(views: Views, thresholds: dict[str, float], steps: Steps, cache: dict | None = None):
    """(name, idx, mask) per contributing component, in union priority order (comb first).

    ``cache`` memoises each component's mask by its own thresholds, so a threshold search that moves one
    threshold recomputes one component only.
    """
    cache = {} if cache is None else cache
    out = []
    if "comb" in steps.components:
        min2 = thresholds.get("min2") if steps.min2 else None
        inb = thresholds.get("inb") if steps.inb_stages else None
        weight = thresholds.get("image_weight", 1.0)
        key = ("comb", thresholds["comb"], min2, inb, steps.inb_stages, steps.arcface, weight)
        if key not in cache:
            sims, idx = views.comb(inb, steps.inb_stages, steps.arcface, weight)
            cache[key] = (idx, match_mask(sims, idx, thresholds["comb"], min2))
        out.append(("comb", *cache[key]))
    if steps.union or "comb" not in steps.components:
        alone_min2 = thresholds.get("min2") if steps.min2 and "comb" not in steps.components else None
        for c in steps.components:
            if c != "comb" and c in views.neighbours and (c != "arcface" or steps.arcface):
                key = (c, thresholds[c], alone_min2)
                if key not in cache:
                    s, i = views.neighbours[c]
                    cache[key] = (i, match_mask(s, i, thresholds[c], alone_min2))
                out.append((c, *cache[key]))
    return out


def predict_rows(views: Views, thresholds: dict[str, float], steps: Steps,
                 scorer: PairScorer | None = None) -> list[list[int]]:
    """Matched row positions per row under ``thresholds`` and ``steps`` (and the pair scorer, if it has one)."""
    if steps.pair_model:
        return match_lists(views.n, *_scorer(scorer).match(pair_set(views, thresholds, steps)))
    parts = _component_pairs(views, thresholds, steps)
    if not parts:
        return [[i] for i in range(views.n)]
    lists = [as_lists(idx, mask) for _, idx, mask in parts]
    return union(*lists) if len(lists) > 1 else lists[0]


def _scorer(scorer: PairScorer | None) -> PairScorer:
    if scorer is None:
        raise ValueError("these steps use the pair model, but none was fitted (fit with steps.pair_model)")
    return scorer


def score_f1(views: Views, thresholds: dict[str, float], steps: Steps, codes: np.ndarray,
             cache: dict | None = None, scorer: PairScorer | None = None) -> float:
    """Mean F1 of the matches (without the 50 cap, which k = 51 makes immaterial) against group codes."""
    if steps.pair_model:
        rows, cols, _ = _scorer(scorer).match(pair_set(views, thresholds, steps))
        return pairs_f1([(rows, cols)], codes)
    pairs = []
    for _, idx, mask in _component_pairs(views, thresholds, steps, cache):
        r, k = np.nonzero(mask)
        pairs.append((r, idx[r, k]))
    return pairs_f1(pairs, codes)


def tune_thresholds(folds: list[tuple[Views, np.ndarray]], steps: Steps, passes: int = 2) -> dict[str, float]:
    """Coordinate ascent on mean F1 over validation folds, each threshold and setting on its grid.

    With ``steps.pair_model``, these are the settings of the union it replaces (the pair features read the
    comb's INB and image weight from them); fit the scorer with :func:`fit_pair_scorer`.
    """
    steps = steps.model_copy(update={"pair_model": False})
    keys = [c for c in steps.components if (c in folds[0][0].neighbours and (c != "arcface" or steps.arcface))
            or c == "comb"]
    if steps.min2:
        keys.append("min2")
    if "comb" in steps.components:
        keys.append("image_weight")
        if steps.inb_stages:
            keys.append("inb")
    caches = [{} for _ in folds]

    def score(th: dict[str, float], st: Steps = steps) -> float:
        return float(np.mean([score_f1(v, th, st, c, cache) for (v, c), cache in zip(folds, caches, strict=True)]))

    th: dict[str, float] = dict(START)
    for key in keys:  # start: each component's own best threshold, matched alone
        if key not in SETTINGS:
            alone = Steps(components=(key,), min2=False, union=False, inb_stages=0, arcface=steps.arcface,
                          pair_model=False)
            th[key] = float(max(GRIDS[key], key=lambda t, key=key, alone=alone: score({**th, key: float(t)}, alone)))
    for _ in range(passes):
        for key in keys:
            best_t, best_s = th[key], score(th)
            for t in GRIDS[key]:
                s = score({**th, key: float(t)})
                if s > best_s + 1e-6:
                    best_t, best_s = float(t), s
            th[key] = best_t
    return th


def fit_pair_scorer(folds: list[tuple[Views, np.ndarray]], thresholds: dict[str, float], steps: Steps,
                    seed: int = 0) -> PairScorer:
    """The pair scorer trained on the candidates of every validation fold (thresholds out of fold)."""
    return PairScorer.fit([(pair_set(v, thresholds, steps), codes) for v, codes in folds], seed=seed)
