"""Cross-market scopes (RQ3 / RQ5 for ranking), fitting, and leave-one-out evaluation.

Scopes use the words of RQ3 and RQ5:

============  ==========================================================================================
``local``     the target market alone
``global``    every market pooled
``pairwise``  the target plus one source (every source x target: the gain matrix)
``culture``   every source weighted by its Hofstede similarity to the target, ``exp(-d / tau)`` with ``d``
              the Euclidean distance of the two countries' six dimensions (scores / 100); ``tau`` learned on
              the target's inner hold-out (each user's last training interaction), never on valid or test;
              markets without a country profile get the median distance
``all-but``   every market except one source (that source's marginal value)
============  ==========================================================================================

Evaluation ranks each user's held-out positive among the run's candidates: nDCG@10, HR@10 and reciprocal
rank per user (metrics from :mod:`culturecart.evaluate.metrics`; ties count against the positive). Users
unknown to the training data are scored all the same (popularity is what the rankers know of them) and counted
as cold start. ``full_catalogue`` ranks the positive among every target item the user has not rated in training
(no sampling: sampled metrics favour popular items, Krichene & Rendle, KDD 2020).

Example:
    >>> from culturecart.testing import toy_markets
    >>> scope_weights(toy_markets(), "aa", "global")
    {'bb': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.hofstede import DIMENSIONS, shipped_hofstede
from culturecart.errors import InvalidInputError, UsageError
from culturecart.evaluate.metrics import hr_at, mrr_at, ndcg_at
from culturecart.persist import load
from culturecart.ranking.listwise import hold_out, run_pairs, training_lists
from culturecart.ranking.markets import Market, Markets
from culturecart.ranking.rankers import ItemKNN, Ranker
from culturecart.ranking.registry import RANKERS, create_ranker

SCOPES = ("local", "global", "pairwise", "culture", "all-but")
TAU_GRID = (0.05, 0.1, 0.2, 0.4, 0.8)


def hofstede_distance(a: str | None, b: str | None, profiles: pd.DataFrame | None = None) -> float:
    """Euclidean distance of two countries' Hofstede scores / 100 (dimensions both have); NaN without profiles."""
    table = shipped_hofstede() if profiles is None else profiles
    if a is None or b is None or a not in table.index or b not in table.index:
        return float("nan")
    x = table.loc[a, list(DIMENSIONS)].astype(float).to_numpy() / 100
    y = table.loc[b, list(DIMENSIONS)].astype(float).to_numpy() / 100
    ok = ~np.isnan(x) & ~np.isnan(y)
    return float(np.sqrt(np.sum((x[ok] - y[ok]) ** 2) * len(DIMENSIONS) / max(ok.sum(), 1)))


def culture_weights(markets: Markets, target: str, tau: float,
                    profiles: pd.DataFrame | None = None) -> dict[str, float]:
    """``exp(-d / tau)`` per source market (median distance where a profile is missing); ``profiles``: the
    Hofstede table (default: the shipped scores)."""
    others = [m for m in markets.names if m != target]
    dist = {m: hofstede_distance(markets[target].country, markets[m].country, profiles) for m in others}
    known = [d for d in dist.values() if not np.isnan(d)]
    fill = float(np.median(known)) if known else 0.0
    return {m: float(np.exp(-(fill if np.isnan(d) else d) / tau)) for m, d in dist.items()}


def scope_weights(markets: Markets, target: str, scope: str, source: str | None = None,
                  tau: float | None = None, profiles: pd.DataFrame | None = None) -> dict[str, float]:
    """The sources of a scope with their weights."""
    others = [m for m in markets.names if m != target]
    if scope == "local":
        return {}
    if scope == "global":
        return {m: 1.0 for m in others}
    if scope in ("pairwise", "all-but"):
        if source not in others:
            raise UsageError(f"scope {scope} needs a source market other than {target!r}; markets: {others}")
        return {source: 1.0} if scope == "pairwise" else {m: 1.0 for m in others if m != source}
    if scope == "culture":
        if tau is None:
            tau = tune_tau(markets, target, profiles=profiles)
        return culture_weights(markets, target, tau, profiles)
    raise UsageError(f"unknown scope {scope!r}; valid: {list(SCOPES)}")


def tune_tau(markets: Markets, target: str, grid: Sequence[float] = TAU_GRID, seed: int = 0,
             profiles: pd.DataFrame | None = None) -> float:
    """The culture weights' temperature with the best inner-hold-out nDCG@10 of item-kNN (training data only)."""
    inner_market, held = hold_out(markets[target], seed)
    inner = Markets(markets.root, {**markets.markets, target: inner_market})
    users, items, labels, _ = training_lists(held, markets[target], 99, np.random.default_rng(seed))
    best, best_score = grid[0], -1.0
    for tau in grid:
        ranker = ItemKNN().fit(inner, target, culture_weights(markets, target, tau, profiles))
        score = _lists_ndcg(ranker.score(users, items), users, labels)
        if score > best_score:
            best, best_score = tau, score
    return best


def _lists_ndcg(scores: np.ndarray, users: np.ndarray, labels: np.ndarray) -> float:
    frame = pd.DataFrame({"u": users, "s": scores, "y": labels})
    ranks = frame.groupby("u", sort=False).apply(
        lambda g: int((g["s"] > g["s"][g["y"] == 1].iat[0]).sum() + (g["s"] == g["s"][g["y"] == 1].iat[0]).sum()),
        include_groups=False)
    return float(ndcg_at(ranks.to_numpy(), 10).mean())


L2_GRID = (50.0, 200.0, 1000.0)


def tune_l2(markets: Markets, target: str, sources: dict[str, float] | None = None,
            grid: Sequence[float] = L2_GRID) -> float:
    """EASE's L2 strength with the best validation nDCG@10 (the valid run only selects; test is never read)."""
    best, best_score = grid[0], -1.0
    for l2 in grid:
        score = summarise(evaluate_run(create_ranker("ease", l2=l2).fit(markets, target, sources or {}),
                                       markets[target], "valid"))["ndcg@10"]
        if score > best_score:
            best, best_score = l2, score
    return best


def resolve_sources(markets: Markets, target: str, sources: str | Sequence[str]) -> dict[str, float]:
    """The source markets and weights that ``sources`` names: ``none`` (local), ``all`` (global), ``culture``
    (Hofstede-weighted, temperature learned on the inner hold-out) or market names (a list or comma-separated)."""
    markets[target]  # noqa: B018  (names the valid markets when the target is unknown)
    if isinstance(sources, str) and sources in ("none", "all", "culture"):
        return scope_weights(markets, target, {"none": "local", "all": "global", "culture": "culture"}[sources])
    names = [s.strip() for s in (sources.split(",") if isinstance(sources, str) else sources) if s.strip()]
    unknown = [s for s in names if s not in markets.markets]
    if unknown:
        raise UsageError(f"unknown source market(s) {unknown}; markets: {markets.names}")
    return {s: 1.0 for s in names if s != target}


FIT_STEPS = 3  # the calls fit_target makes to its progress callback


def fit_target(markets: Markets, target: str, sources: str | Sequence[str] = "none", model: str = "rerank",
               progress: Callable[[str], None] | None = None, **options: object) -> Ranker:
    """Fit ``model`` for ``target`` on the sources :func:`resolve_sources` names. EASE's L2 strength, unless given,
    is chosen on the target's valid run (never on test) when it has one. ``progress(detail)`` is called after each
    of :data:`FIT_STEPS` steps (sources, tuning, fit)."""
    step = progress or (lambda detail: None)
    create_ranker(model, **options)  # an unknown model or option is refused before any work
    weights = resolve_sources(markets, target, sources)
    step("source weights: " + (", ".join(f"{s} {w:.3g}" for s, w in weights.items()) or "none (the target alone)"))
    if RANKERS.canonical(model) == "ease" and "l2" not in options and "valid" in markets[target].runs \
            and "valid" in markets[target].qrels:
        options = {**options, "l2": tune_l2(markets, target, weights)}
        step(f"L2 strength {options['l2']:g}, chosen on the valid run")
    else:
        step("nothing to tune")
    ranker = fit_ranker(markets, target, weights, model, **options)
    step(f"fitted {ranker.name}")
    return ranker


def cross_fit_target(markets: Markets, target: str, sources: str | Sequence[str] = "none", folds: int = 5,
                     progress: Callable[[str], None] | None = None, **options: object) -> tuple[Ranker, pd.DataFrame]:
    """Fit the re-ranker for ``target`` on its training data and on its own labelled validation lists
    (``valid_run.tsv`` with ``valid_qrel.tsv``), as the WSDM Cup 2022 teams did for their test submissions
    (:meth:`~culturecart.ranking.rerank.ReRanker.cross_fit`, ``folds`` folds). Returns the ranker, for scoring
    another run (it refuses the valid run: :func:`score_run`), and the valid run's out-of-fold scores (userId,
    itemId, score), the only honest figure such a model has on the run whose labels it learned.
    ``progress(detail)`` is called :data:`FIT_STEPS` times, as :func:`fit_target` calls it.

    Example:
        >>> from culturecart.testing import small_markets
        >>> m = small_markets(negatives=9)
        >>> ranker, scores = cross_fit_target(m, "aa", "all", folds=2, trees=5, factors=4, negatives=2)
        >>> ranker.target_labels_ == len(m["aa"].qrels["valid"]), sorted(scores.columns)
        (True, ['itemId', 'score', 'userId'])
        >>> 0 <= summarise(rank_scores(scores, m["aa"].qrels["valid"]))["ndcg@10"] <= 1
        True
    """
    step = progress or (lambda detail: None)
    ranker = create_ranker("rerank", **options)  # an invalid option is refused before any work
    market = markets[target]
    if "valid" not in market.runs or "valid" not in market.qrels:
        raise InvalidInputError(f"market {target} has no valid_run.tsv and valid_qrel.tsv: its own labels are those "
                                "of its validation run")
    weights = resolve_sources(markets, target, sources)
    step("source weights: " + (", ".join(f"{s} {w:.3g}" for s, w in weights.items()) or "none (the target alone)"))
    run, qrel = market.runs["valid"], market.qrels["valid"]
    users, items = run_pairs(run)
    # the out-of-fold figure is ranked at the end: a run and qrel that cannot be ranked are refused before fitting
    try:
        rank_scores(pd.DataFrame({"userId": users, "itemId": items, "score": 0.0}), qrel)
    except InvalidInputError as err:
        raise InvalidInputError(f"market {target}'s valid_run.tsv and valid_qrel.tsv: {err}") from None
    step(f"cross-fitting on the valid run's {qrel['userId'].nunique():,} labelled lists, {folds} folds")
    scores = ranker.cross_fit(markets, target, weights, run, qrel, folds=folds)
    step(f"fitted {ranker.name} on the training data and the valid run's labels")
    return ranker, scores


def fit_ranker(markets: Markets, target: str, sources: dict[str, float], model: str = "rerank",
               **params: float) -> Ranker:
    """Fit ``model`` (a ranker name of :data:`~culturecart.ranking.registry.RANKERS`) on the target plus weighted
    sources."""
    return create_ranker(model, **params).fit(markets, target, sources)


def check_coverage(ranker: Ranker, run: pd.DataFrame) -> dict[str, int]:
    """How many of a run's users and candidate items the ranker learned anything about. None of either is an
    :class:`InvalidInputError` (the model was fitted on another market); some unknown is a warning with the counts
    (cold start: those score from what is known, e.g. popularity)."""
    import warnings

    exploded = run.explode("candidates").dropna(subset=["candidates"])
    users = run["userId"].astype(str).to_numpy()
    items = np.unique(exploded["candidates"].astype(str).to_numpy())
    known_users = ranker.known(users, np.array([], str))[0] if len(users) else np.zeros(0, bool)
    known_items = ranker.known(np.array([], str), items)[1] if len(items) else np.zeros(0, bool)
    counts = {"users": len(users), "known_users": int(known_users.sum()), "items": len(items),
              "known_items": int(known_items.sum())}
    where = f"the model (fitted for market {ranker.target_!r})"
    # A ranker that scores from the user's history gives every candidate of an unknown user 0.
    blind = counts["known_items"] == 0 or (hasattr(ranker, "users_") and counts["known_users"] == 0)
    if blind:
        raise InvalidInputError(f"{where} knows none of the run's {counts['users']:,} users"
                                + ("" if counts["known_items"] else f" and {counts['items']:,} candidate items")
                                + ": it was fitted on another market's data, so every score would be 0; fit one on "
                                "this market (culturecart xmarket fit)")
    if counts["known_users"] < counts["users"] or counts["known_items"] < counts["items"]:
        warnings.warn(f"cold start: {where} knows {counts['known_users']:,} of the run's {counts['users']:,} users "
                      f"and {counts['known_items']:,} of its {counts['items']:,} candidate items; the others score from "
                      "what it knows (e.g. popularity), or 0", stacklevel=2)
    return counts


def refuse_learned_run(ranker: Ranker, run: pd.DataFrame) -> None:
    """Refuse, with a :class:`UsageError`, a run whose labels the ranker learned (more than half of its users'
    held-out items among their candidates, by :meth:`Ranker.labelled`): its scores would be in-sample."""
    _refuse_learned_pairs(ranker, *run_pairs(run))


def _refuse_learned_pairs(ranker: Ranker, users: np.ndarray, items: np.ndarray) -> None:
    known = ranker.labelled(users, items)
    if not known.any():  # every ranker but a cross-fitted re-ranker: no pass over the run's users
        return
    learned, every = np.unique(users[known]), np.unique(users)
    if len(learned) > len(every) / 2:
        raise UsageError(f"the model learned the labels of {len(learned):,} of this run's {len(every):,} users (their "
                         "held-out item is among their candidates): its scores of this run would be in-sample. Score "
                         "another run (the test run), or use the out-of-fold scores that fitting with the target's "
                         "own labels gives")


def score_run(ranker: Ranker, run: pd.DataFrame) -> pd.DataFrame:
    """Every (userId, itemId) candidate of a run with the ranker's score (the submission format); a run whose
    labels the ranker learned is refused (:func:`refuse_learned_run`)."""
    users, items = run_pairs(run)
    _refuse_learned_pairs(ranker, users, items)
    return pd.DataFrame({"userId": users, "itemId": items, "score": ranker.score(users, items)})


def rank_scores(scores: pd.DataFrame, qrel: pd.DataFrame, allow_missing: bool = False,
                known_users: set[str] | None = None) -> pd.DataFrame:
    """Per qrel user: the positive's rank among the user's scored items and nDCG@10, HR@10, reciprocal rank.

    A qrel user without scores is an error naming users (``allow_missing``: ranked last, metrics 0); a positive
    that is not among the user's scored items is an error.
    """
    twice = np.flatnonzero(qrel["userId"].astype(str).duplicated(keep=False).to_numpy())
    if len(twice):
        raise InvalidInputError(f"the qrel lists {qrel['userId'].iloc[twice].nunique()} user(s) more than once (rows "
                                f"{twice[:10].tolist()}, 0-based, e.g. user {qrel['userId'].iat[twice[0]]!r}): these "
                                "metrics rank one held-out positive per user")
    doubled = np.flatnonzero(scores[["userId", "itemId"]].astype(str).duplicated(keep=False).to_numpy())
    if len(doubled):
        raise InvalidInputError(f"the scores list {len(doubled)} rows whose (userId, itemId) appears more than once "
                                f"(rows {doubled[:10].tolist()}, 0-based, e.g. user {scores['userId'].iat[doubled[0]]!r}"
                                f", item {scores['itemId'].iat[doubled[0]]!r}): each candidate needs exactly one score")
    first = qrel
    positives = pd.Series(first["itemId"].astype(str).to_numpy(), index=first["userId"].astype(str).to_numpy())
    scored_users = set(scores["userId"].astype(str))
    missing = sorted(set(positives.index) - scored_users)
    if missing and not allow_missing:
        raise InvalidInputError(f"{len(missing)} qrel user(s) have no scores, e.g. {_quoted(missing)}; pass "
                                "--allow-missing to count them as misses")
    frame = scores.assign(userId=scores["userId"].astype(str), itemId=scores["itemId"].astype(str))
    frame = frame[frame["userId"].isin(positives.index)]
    frame["positive"] = frame["itemId"].to_numpy() == positives.reindex(frame["userId"]).astype(str).to_numpy()
    has = frame.groupby("userId")["positive"].any()
    lacking = has.index[~has].tolist()
    if lacking:
        raise InvalidInputError(f"{len(lacking)} user(s) have scores but not for their held-out item, e.g. "
                                f"{_quoted(lacking)}: score the run that belongs to this qrel file")
    pos_score = frame[frame["positive"]].drop_duplicates("userId").set_index("userId")["score"]
    frame["above"] = frame["score"].to_numpy() >= pos_score.reindex(frame["userId"]).to_numpy()
    ranks = frame.groupby("userId")["above"].sum().astype(int)  # ties count against the positive
    ranks = ranks.reindex(positives.index, fill_value=0).to_numpy()
    out = pd.DataFrame({"userId": positives.index, "rank": ranks, "ndcg@10": ndcg_at(ranks, 10),
                        "hr@10": hr_at(ranks, 10), "rr": mrr_at(ranks, 10 ** 9)})
    out["cold"] = ~out["userId"].isin(known_users) if known_users is not None else False
    return out


def score_files(scores_path: str | Path, qrel_path: str | Path, allow_missing: bool = False) -> dict:
    """nDCG@10, HR@10, MRR and the number of users of a scores file (userId, itemId, score) against a qrel file
    (userId, itemId, rating); :class:`InvalidInputError` naming the file, column and rows of any problem."""
    from culturecart.errors import Problem
    from culturecart.ranking.markets import numeric_ratings, read_tsv

    problems: list[Problem] = []
    tables = {}
    for path, columns in ((Path(scores_path), ["userId", "itemId", "score"]),
                          (Path(qrel_path), ["userId", "itemId", "rating"])):
        if not path.is_file():
            raise InvalidInputError(f"{path} " + ("is a folder" if path.exists() else "does not exist"))
        tables[path] = read_tsv(path, columns, problems, path.name)
    if problems:
        raise InvalidInputError.from_problems(problems, "the scores or qrel file")
    scores = tables[Path(scores_path)]
    scores = numeric_ratings(scores, Path(scores_path), problems, Path(scores_path).name, column="score")
    if problems:
        raise InvalidInputError.from_problems(problems, f"scores file {scores_path}")
    try:
        ranked = rank_scores(scores, tables[Path(qrel_path)], allow_missing=allow_missing)
    except InvalidInputError as err:
        raise InvalidInputError(f"scores {scores_path} against qrel {qrel_path}: {err}") from None
    result = summarise(ranked)
    result.pop("cold_users")
    from culturecart.ranking.analysis import chance_ndcg

    # the level of a random order of the same lists: what nDCG@10 means depends on the lists' lengths
    lengths = scores.assign(userId=scores["userId"].astype(str)).groupby("userId").size()
    result["chance_ndcg@10"] = round(chance_ndcg(lengths.reindex(ranked["userId"], fill_value=1).to_numpy(int), 10),
                                     6)
    return result


def _quoted(values: Sequence[str], shown: int = 5) -> str:
    """A few ids for a message, each quoted as written (unprintable characters escaped), then how many more."""
    more = f" (+{len(values) - shown} more)" if len(values) > shown else ""
    return ", ".join(repr(str(v)) for v in values[:shown]) + more


def summarise(per_user: pd.DataFrame) -> dict:
    """Mean nDCG@10, HR@10, MRR over users, the number of users and of cold-start users."""
    return {"ndcg@10": round(float(per_user["ndcg@10"].mean()), 6), "hr@10": round(float(per_user["hr@10"].mean()), 6),
            "mrr": round(float(per_user["rr"].mean()), 6), "users": int(len(per_user)),
            "cold_users": int(per_user["cold"].sum())}


def evaluate_run(ranker: Ranker, market: Market, run: str = "valid") -> pd.DataFrame:
    """Per-user metrics of ``ranker`` on the market's ``valid`` or ``test`` run."""
    if run not in market.runs or run not in market.qrels:
        raise InvalidInputError(f"market {market.name} has no {run}_run.tsv and {run}_qrel.tsv")
    scores = score_run(ranker, market.runs[run])
    return rank_scores(scores, market.qrels[run], known_users=set(market.train["userId"].astype(str)))


def full_catalogue(ranker: Ranker, market: Market, run: str = "test", chunk_users: int = 200) -> pd.DataFrame:
    """Per user: nDCG@10 and recall@10 of the held-out item among every target item not rated in training."""
    items = np.array(sorted(set(market.train["itemId"].astype(str)) | set(market.qrels[run]["itemId"].astype(str))))
    rated = market.train.groupby(market.train["userId"].astype(str))["itemId"].agg(lambda s: set(s.astype(str)))
    qrel = market.qrels[run].drop_duplicates("userId")
    rows = []
    for start in range(0, len(qrel), chunk_users):
        part = qrel.iloc[start:start + chunk_users]
        users = np.repeat(part["userId"].astype(str).to_numpy(), len(items))
        scores = ranker.score(users, np.tile(items, len(part))).reshape(len(part), len(items))
        for k, (user, positive) in enumerate(zip(part["userId"].astype(str), part["itemId"].astype(str),
                                                  strict=True)):
            keep = ~np.isin(items, list(rated.get(user, set()) - {positive}))
            s = scores[k][keep]
            target = s[items[keep] == positive][0]
            rank = int((s > target).sum() + (s == target).sum())
            rows.append((user, rank))
    ranks = np.array([r for _, r in rows])
    return pd.DataFrame({"userId": [u for u, _ in rows], "rank": ranks, "ndcg@10": ndcg_at(ranks, 10),
                         "recall@10": hr_at(ranks, 10)})


# ---- a fitted cross-market model as a folder ----

def save_model(folder: str | Path, ranker: Ranker, overwrite: bool = False) -> Path:
    """The fitted ranker's folder (its header keeps the target and the sources' weights), written atomically."""
    return ranker.save(folder, overwrite=overwrite)


def load_model(folder: str | Path) -> tuple[Ranker, dict]:
    """A saved cross-market model and what it is (target, sources, model); :class:`InvalidInputError` naming the
    damaged file. Folders of older versions (``xmarket.json`` beside ``ranker/``) load too."""
    ranker = load(folder, expect=Ranker)
    return ranker, {"target": ranker.target_, "sources": ranker.sources_, "model": ranker.name}
