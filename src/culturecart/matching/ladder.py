"""The F1 ladder: each step of the Shopee recipe switched on in turn, scored by outer GroupKFold.

Per outer fold, the expensive parts run once (inner-fold validation views with their ArcFace heads, the
final head, the test fold's views); each ladder step then tunes its own thresholds on the inner views
and is scored on the outer test fold, so every step sees exactly the same data and no labels of the
test fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from culturecart.data.adapters.shopee import read_shopee
from culturecart.matching.config import MatchingConfig, Steps

ALL = ("comb", "tfidf", "arcface", "phash", "image")
NONE = {"min2": False, "union": False, "inb_stages": 0, "arcface": False, "pair_model": False}


def _alone(component: str) -> Steps:
    return Steps(components=(component,), **NONE)


LADDER: tuple[tuple[str, Steps], ...] = (
    ("tfidf", _alone("tfidf")),
    ("pretrained_text", _alone("text")),
    ("phash", _alone("phash")),
    ("image", _alone("image")),
    ("comb", _alone("comb")),
    ("+min2", Steps(components=("comb",), **{**NONE, "min2": True})),
    ("+union", Steps(components=("comb", "tfidf", "phash", "image"), **{**NONE, "min2": True, "union": True})),
    ("+INB", Steps(components=("comb", "tfidf", "phash", "image"),
                   **{**NONE, "min2": True, "union": True, "inb_stages": 2})),
    ("+ArcFace", Steps(components=ALL, **{**NONE, "min2": True, "union": True, "inb_stages": 2, "arcface": True})),
    ("+pair model", Steps(components=ALL, min2=True, union=True, inb_stages=2, arcface=True, pair_model=True)),
)


def matching_ladder(path: str, images: str | None = None, folds: int = 5, seed: int = 0,
                    text_encoder: str = "use-m3", inner_folds: int = 3, progress=None) -> list[dict]:
    """Mean F1 of every ladder step over ``folds`` outer GroupKFold folds (rows: model, value, ci_low, ci_high).

    The folds are independent: :func:`ladder_fold` computes one (a study runs them in parallel) and
    :func:`combine_folds` summarises them.
    """
    results = []
    for f in range(ladder_folds(path, folds)):
        results.append(ladder_fold(path, images, f, folds, seed, text_encoder, inner_folds))
        if progress:
            progress(f"outer fold {f + 1}: " + ", ".join(f"{k} {v['f1']:.3f}" for k, v in results[-1].items()))
    return combine_folds(results)


def _read(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    frame = read_shopee(path)
    if "label_group" not in frame:
        raise ValueError(f"{path}: the ladder needs label_group")
    return frame, frame["label_group"].astype(str).to_numpy()


def ladder_folds(path: str, folds: int) -> int:
    """How many outer folds the ladder runs on this file (no more than its label groups)."""
    return min(folds, len(np.unique(_read(path)[1])))


def ladder_fold(path: str, images: str | None, fold: int, folds: int = 5, seed: int = 0,
                text_encoder: str = "use-m3", inner_folds: int = 3, cache: str | None = None) -> dict[str, dict]:
    """One outer fold of the ladder: each step's test-fold F1 and the thresholds it tuned on the inner folds.

    ``cache``: the embedding cache folder (None: the default one); a study passes its own, which its encoding of
    the same titles and images has filled.
    """
    # Imported here, where a fold runs, rather than at the top: a study that only plans its folds and combines
    # their results (its driver process) never loads torch, faiss and LightGBM.
    from culturecart.matching.model import MatchingModel
    from culturecart.matching.tuning import fit_pair_scorer, score_f1, tune_thresholds
    from culturecart.matching.views import compute_views

    frame, labels = _read(path)
    n_folds = min(folds, len(np.unique(labels)))
    tr, te = list(GroupKFold(n_splits=n_folds).split(frame, groups=labels))[fold]
    img = Path(images) if images else None
    config = MatchingConfig(text_encoder=text_encoder, inner_folds=inner_folds, seed=seed, embedding_cache=cache)
    train, test = frame.iloc[tr].reset_index(drop=True), frame.iloc[te].reset_index(drop=True)
    model = MatchingModel(config.model_copy(update={"seed": seed + 100 * fold}))
    inner, x = model.inner_views(train, img)
    head = model._head(train, x, seed + 100 * fold)
    test_views = compute_views(test, config, head, img)
    codes = np.unique(labels[te], return_inverse=True)[1]
    tuned: dict[str, dict[str, float]] = {}  # the pair model step reuses its union's settings
    out = {}
    for name, steps in LADDER:
        if name == "image" and "image" not in test_views.neighbours:
            continue
        key = repr(steps.model_copy(update={"pair_model": False}))
        th = tuned[key] = tuned.get(key) or tune_thresholds(inner, steps)
        scorer = fit_pair_scorer(inner, th, steps, seed + 100 * fold) if steps.pair_model else None
        f1 = score_f1(test_views, th, steps, codes, scorer=scorer)
        if scorer is not None:  # min2 off shows as NaN, which the mean over folds skips
            th = {**th, "pair": scorer.threshold, "pair_min2": np.nan if scorer.min2 is None else scorer.min2}
        out[name] = {"f1": float(f1), "thresholds": {k: float(v) for k, v in th.items()}}
    return out


def combine_folds(results: list[dict[str, dict]]) -> list[dict]:
    """The ladder table from its folds: mean F1 with a normal 95% interval over folds, mean thresholds."""
    rows = []
    for name, _ in LADDER:
        v = np.asarray([r[name]["f1"] for r in results if name in r])
        if not len(v):
            continue
        half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
        rows.append({"model": name, "value": float(v.mean()), "ci_low": float(v.mean() - half),
                     "ci_high": float(v.mean() + half), "folds": [round(float(s), 5) for s in v],
                     "thresholds": pd.DataFrame([r[name]["thresholds"] for r in results if name in r]).mean()
                     .round(4).to_dict()})
    return rows
