"""The LambdaRank re-ranker: LightGBM over candidate lists, from every base ranker's scores.

Base rankers of a (user, candidate) pair: popularity, item-kNN (cosine and Jaccard), user-kNN, EASE and ALS scores
computed on the scope's data (target + weighted sources) and on the target alone (with ``lightgcn``, also LightGCN
embeddings of the target alone); popularity and item-kNN computed on each source market
alone (the source's co-occurrences applied to the target user's history). EASE and the factor models are not
fitted per source: a source-only EASE costs an item x item inversion per source, and a source-only factorisation
has no factors for the target's users. Beside the raw scores (feature set 2, :mod:`culturecart.ranking.listwise`):
each score's rank, gap and z-score within the user's candidate list, item, user and market statistics, and the
target market's Hofstede profile; with ``history_similarity``, also the maximum, mean and standard deviation of the
candidate's item-kNN similarity (cosine and Jaccard) to each item of the user's history (the statistics the WSDM Cup
2022 teams fed their rankers beside the summed item-CF score). The candidates of one user passed to one ``score``
call form that user's list.

Training follows the protocol's division of labour: one interaction of each user of the training data is held
out (the last by date; without dates a seeded random one of the user's 5-core rows), the base rankers are fitted
on the rest, and the re-ranker learns to put that item first among ``negatives`` items drawn as the evaluation
lists draw theirs (uniformly from the market's candidate items). ``pool_targets`` adds the lists of other markets
(each with its own bases and the other markets as sources) to train one model; ``select_sources`` chooses the
sources greedily on the inner hold-out (``selection_`` keeps the trace). ``labelled_lists`` adds lists built on
other markets' own held-out validation rows (their ``valid`` qrels, chosen as the evaluation's are), each market's
bases fitted on all its training data; ``repeats`` draws further inner hold-outs with the next seeds, ``holdouts``
several rows per user (each its own list). ``target_lists=False`` leaves the target's inner lists out and trains
on the other markets' lists alone: the labelled lists are drawn as the evaluation lists are (a held-out row the
bases never saw, bases fitted on all the rest), the inner lists are not (the bases miss one row of the user's
history). The target's own validation and test interactions are never read by ``fit``; ``cross_fit`` is the one
place they train a model (the competition teams' recipe, scored out of fold as a reference).

Example:
    >>> from culturecart.testing import toy_markets
    >>> r = ReRanker(trees=5, factors=4, negatives=2).fit(toy_markets(), "aa", ["bb"])
    >>> r.score(["u1", "u3"], ["i3", "i1"]).shape
    (2,)
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from culturecart.data.hofstede import DIMENSIONS, shipped_hofstede
from culturecart.errors import ConfigError, InvalidInputError
from culturecart.parallel import thread_budget
from culturecart.persist import Files
from culturecart.ranking.lightgcn import LightGCN
from culturecart.ranking.listwise import (
    PairStats,
    hold_out,
    relative,
    require_columns,
    run_pairs,
    training_lists,
)
from culturecart.ranking.markets import Market, Markets
from culturecart.ranking.rankers import (
    EASE,
    ItemKNN,
    MatrixFactorisation,
    Popularity,
    Ranker,
    UserKNN,
    _weights,
)

SCOPE_RANKERS = {"popularity": Popularity, "itemknn": ItemKNN, "ease": EASE, "als": MatrixFactorisation}
SCOPE_RANKERS_2 = {**SCOPE_RANKERS, "jaccard": ItemKNN, "userknn": UserKNN}
SOURCE_RANKERS = {"popularity": Popularity, "itemknn": ItemKNN}
FEATURES = 2  # the feature set fitted now; folders of set 1 (raw scores and the profile only) still load


class ReRankerConfig(BaseModel):
    """The re-ranker's options (its base rankers' options where it passes them on)."""

    model_config = ConfigDict(extra="forbid")

    trees: int = Field(300, ge=1, description="LambdaRank boosting rounds")
    negatives: int = Field(99, ge=1, description="sampled negatives per held-out positive in the training lists")
    factors: int = Field(64, ge=1, description="ALS and BPR factors of the base rankers")
    l2: float = Field(200.0, gt=0, description="EASE's L2 strength of the base ranker")
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(7, ge=2, description="leaves per tree (small trees: the lists hold one positive each)")
    min_data_in_leaf: int = Field(200, ge=1)
    feature_fraction: float = Field(0.5, gt=0, le=1, description="share of the features each tree sees")
    pool_targets: list[str] = Field(default_factory=list, description="other markets whose lists train the same "
                                                                      "model (one re-ranker across targets)")
    select_sources: bool = Field(False, description="choose the sources greedily on the inner hold-out")
    history_similarity: bool = Field(False, description="add the maximum, mean and standard deviation of the "
                                                         "candidate's item-kNN similarity (cosine and Jaccard, on the "
                                                         "scope) to each item of the user's history as features")
    labelled_lists: list[str] = Field(default_factory=list, description="other markets whose own held-out "
                                      "validation interactions (their 'valid' qrels, chosen as the evaluation's "
                                      "are) train the model as labelled lists beside the target's inner hold-out; "
                                      "never the target's own")
    lightgcn: bool = Field(False, description="add LightGCN embeddings fitted on the target alone as a base ranker "
                                              "(LightGCN's own defaults, the re-ranker's seed)")
    repeats: int = Field(1, ge=1, description="inner hold-outs drawn with seeds seed, seed+1, ..., each with "
                                              "its own bases and training lists (without dates another random row "
                                              "per user; with dates the same last row, with fresh negatives)")
    holdouts: int = Field(1, ge=1, description="interactions held out per user for the training lists (each its "
                                               "own list)")
    target_lists: bool = Field(True, description="train on the target's own inner hold-out lists; False trains on "
                                                 "the other markets' lists alone (labelled_lists, pool_targets)")
    seed: int = 0


class ReRanker(Ranker):
    """LightGBM LambdaRank over the base rankers' scores (see the module docstring)."""

    name = "rerank"
    config_class = ReRankerConfig
    fitted_attribute = "booster_"
    cheap = False

    def _bases(self, markets: Markets, target: str, weights: dict[str, float]) -> dict[str, Ranker]:
        c = self.config
        params = {"ease": {"l2": c.l2}, "als": {"factors": c.factors, "seed": c.seed},
                  "jaccard": {"similarity": "jaccard"}, "userknn": {"neighbours": 300}}
        bases: dict[str, Ranker] = {}
        for name, cls in (SCOPE_RANKERS if self.features_ == 1 else SCOPE_RANKERS_2).items():
            bases[f"{name}@scope"] = cls(**params.get(name, {})).fit(markets, target, weights)
            if weights:
                bases[f"{name}@target"] = cls(**params.get(name, {})).fit(markets, target, {})
        if c.lightgcn:
            bases["lightgcn@target"] = LightGCN(seed=c.seed).fit(markets, target, {})
        for source in sorted(weights):
            for name, cls in SOURCE_RANKERS.items():
                bases[f"{name}@{source}"] = cls(target_weight=0.0).fit(markets, target, {source: 1.0})
        return bases

    def _features(self, bases: dict[str, Ranker], users: np.ndarray, items: np.ndarray,
                  stats: PairStats | None = None, profile=None, lists: np.ndarray | None = None) -> np.ndarray:
        keys = [k for k in sorted(bases) if self.features_ == 1 or "@" not in k or k.split("@")[1] in ("scope",
                                                                                                      "target")]
        cols = [bases[k].score(users, items) for k in keys]
        if self.features_ >= 2:
            # Per-source scores differ in number between markets: pooled lists share their summaries instead.
            per_source = [bases[k].score(users, items) for k in sorted(bases) if k not in keys]
            cols += [np.max(per_source, axis=0), np.mean(per_source, axis=0)] if per_source else \
                [np.full(len(users), np.nan)] * 2
            if self.config.history_similarity:
                cols += [c for k in ("itemknn@scope", "jaccard@scope") for c in
                         bases[k].history_similarity(users, items).T]
            group = users if lists is None else lists  # scoring: a user's candidates are one list
            cols += [c for col in list(cols) for c in relative(np.nan_to_num(col), group).T]
            cols += list((stats or self.stats_).lookup(users, items).T)
        profile = np.asarray(self.profile_ if profile is None else profile, float)
        cols += [np.full(len(users), v) for v in profile]
        return np.column_stack(cols).astype(np.float32)

    @property
    def weights_(self) -> dict[str, float]:
        return self.sources_

    def _lists(self, markets: Markets, target: str, weights: dict[str, float], rng: np.random.Generator,
               repeat: int = 0):
        """Features, labels and list ids of one target's training lists (its bases fitted on the inner data)."""
        inner_market, held = hold_out(markets[target], self.config.seed + repeat, self.config.holdouts)
        inner = Markets(markets.root, {**markets.markets, target: inner_market})
        return self._list_rows(inner, target, weights, held, markets[target], rng)

    def _list_rows(self, fitted_on: Markets, target: str, weights: dict[str, float], held: pd.DataFrame,
                   market: Market, rng: np.random.Generator):
        """Features, labels, users and list ids of one list per ``held`` row, bases fitted on ``fitted_on``."""
        users, items, labels, lists = training_lists(held, market, self.config.negatives, rng)
        stats = PairStats(fitted_on, target, sorted(weights))
        x = self._features(self._bases(fitted_on, target, weights), users, items, stats, _profile(market.country),
                           lists)
        return x, labels, users, lists

    def _labelled_lists(self, markets: Markets, other: str, weights: dict[str, float], rng: np.random.Generator):
        """Lists of another market's own held-out validation interactions: its bases fitted on all its training
        data (which the held-out items are not part of), negatives drawn as its evaluation lists draw theirs."""
        held = markets[other].qrels["valid"].sort_values("userId", kind="stable").reset_index(drop=True)
        return self._list_rows(markets, other, weights, held, markets[other], rng)

    def fit(self, markets, target, sources=()):
        parts, weights = self._prepare(markets, target, sources)
        self.booster_ = self._boost(parts)
        self.bases_ = self._bases(markets, target, weights)
        self.stats_ = PairStats(markets, target, sorted(weights))
        self.labelled_ = (np.array([], str), np.array([], str))
        self.target_labels_ = 0
        return self

    def labelled(self, users, items):
        """Which (user, item) pairs are positives of the target's own labelled lists this model learned from
        (:meth:`cross_fit`); none after :meth:`fit`."""
        learned = pd.MultiIndex.from_arrays(list(self.labelled_))
        return pd.MultiIndex.from_arrays([np.asarray(users, str), np.asarray(items, str)]).isin(learned)

    def cross_fit(self, markets: Markets, target: str, sources, run: pd.DataFrame, qrel: pd.DataFrame,
                  folds: int = 5) -> pd.DataFrame:
        """Out-of-fold scores of ``run`` when the target's own labels (``qrel``) train the model as well.

        This is the WSDM Cup 2022 teams' recipe (their rankers learned on the target's labelled validation lists
        and scored the test lists), measured without a test set. The run's users fall into ``folds`` seeded folds
        (a hash of the user id and the seed, not the file order). Each fold's candidates are scored by a booster
        that learned on the other folds' lists, labelled by ``qrel``, beside the lists ``fit`` trains on; with
        ``target_lists`` off and no other market's lists, on those labelled lists alone (the teams' model). The
        bases are fitted once on all the training data, which holds none of the labelled rows. The figure is a
        reference for what the target's labelled lists are worth: the same labels train and are scored (in other
        folds), so it is never comparable with ``fit``'s, and it is not allowed where those labels are reserved
        for evaluation.

        Returns the run's (userId, itemId, score) rows, as
        :func:`~culturecart.ranking.crossmarket.score_run` does. The ranker is left fitted on every fold's
        labelled lists (``target_labels_`` counts them), the model for scoring another run, such as the test's.

        Example:
            >>> from culturecart.testing import small_markets
            >>> import pandas as pd
            >>> m = small_markets()
            >>> run = pd.DataFrame({"userId": ["aa000", "aa001"], "candidates": [["i003", "i001"], ["i004", "i002"]]})
            >>> qrel = pd.DataFrame({"userId": ["aa000", "aa001"], "itemId": ["i003", "i004"]})
            >>> ReRanker(trees=5, factors=4, negatives=2).cross_fit(m, "aa", ["bb"], run, qrel, folds=2).shape
            (4, 3)
        """
        if folds < 2:
            raise ConfigError(f"cross_fit needs at least 2 folds (got {folds}): one scores, the others train")
        users, items = run_pairs(run)
        require_columns(qrel, ("userId", "itemId"), "the qrel")
        positives = pd.MultiIndex.from_arrays([qrel["userId"].astype(str), qrel["itemId"].astype(str)])
        labels = pd.MultiIndex.from_arrays([users, items]).isin(positives).astype(np.int32)
        if not labels.any():
            raise InvalidInputError(f"none of the qrel's {len(qrel):,} positives is among its user's candidates in "
                                    f"the run ({len(np.unique(users)):,} users): the two files do not belong together")
        parts, weights = self._prepare(markets, target, sources, own_labels=True)
        self.bases_ = self._bases(markets, target, weights)
        self.stats_ = PairStats(markets, target, sorted(weights))
        x = self._features(self.bases_, users, items)
        distinct, of_pair = np.unique(users, return_inverse=True)
        key = pd.util.hash_pandas_object(pd.Series(distinct), index=False).to_numpy()
        fold = ((key ^ np.uint64(self.config.seed * 0x9E3779B97F4A7C15 % 2**64)) % np.uint64(folds)).astype(int)[of_pair]
        scores = np.zeros(len(users))
        for k in range(folds):
            learn = fold != k
            if (~learn).any():
                booster = self._boost([*parts, (x[learn], labels[learn], users[learn], users[learn])])
                scores[~learn] = booster.predict(x[~learn])
        self.booster_ = self._boost([*parts, (x, labels, users, users)])
        self.labelled_ = (users[labels == 1], items[labels == 1])
        self.target_labels_ = len(np.unique(self.labelled_[0]))
        return pd.DataFrame({"userId": users, "itemId": items, "score": scores})

    def _prepare(self, markets: Markets, target: str, sources, own_labels: bool = False):
        """Check the options, choose the sources and draw the training lists ``fit`` learns on."""
        weights = {s: w for s, w in _weights(sources).items() if s != target and w > 0}
        for other in self.config.labelled_lists:
            if other == target:
                raise ConfigError(f"labelled_lists: {target!r} is the target; its own held-out labels never train "
                                 "its model")
            if "valid" not in markets[other].qrels:
                raise ConfigError(f"labelled_lists: market {other!r} has no held-out validation interactions "
                                 "(valid_qrel.tsv)")
        if not (own_labels or self.config.target_lists or (set(self.config.labelled_lists)
                                                           | set(self.config.pool_targets)) - {target}):
            raise ConfigError("target_lists=false leaves no training lists: name other markets in labelled_lists "
                              "or pool_targets")
        self.features_ = FEATURES
        self.selection_ = []
        if self.config.select_sources and weights:
            weights, self.selection_ = select_sources(markets, target, sorted(weights), self.config.seed)
        self.target_, self.sources_ = target, weights
        self.profile_ = _profile(markets[target].country)
        rng = np.random.default_rng(self.config.seed)
        parts = [self._lists(markets, target, weights, rng, k) for k in range(self.config.repeats)
                 if self.config.target_lists]
        pool = sorted(set(weights) | {target})
        for other in self.config.pool_targets:
            if other != target:
                parts.append(self._lists(markets, other, {m: 1.0 for m in pool if m != other}, rng))
        for other in self.config.labelled_lists:
            parts.append(self._labelled_lists(markets, other, {m: 1.0 for m in pool if m != other}, rng))
        return parts, weights

    def _boost(self, parts) -> lgb.Booster:
        """LambdaRank over the lists of ``parts`` (features, labels, users, list ids)."""
        x = np.vstack([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        lists = np.concatenate([np.char.add(f"{k}\x1f", p[3].astype(str)) for k, p in enumerate(parts)])
        codes = pd.factorize(lists)[0]
        # A fixed number of rounds, no early stopping: on held-out inner lists nDCG@10 peaks after the first trees
        # and then falls, while on the evaluation lists it rises to 200-300 trees (inner and evaluation lists differ:
        # the inner positive is a random 5-core row of a user whose other rows train the bases). docs/ranking.md.
        params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "learning_rate": self.config.learning_rate,
                  "num_leaves": self.config.num_leaves, "min_data_in_leaf": self.config.min_data_in_leaf,
                  "feature_fraction": self.config.feature_fraction, "bagging_fraction": 0.8, "bagging_freq": 1,
                  "verbose": -1, "deterministic": True, "force_row_wise": True, "seed": self.config.seed,
                  "num_threads": thread_budget()}
        order = np.argsort(codes, kind="stable")
        groups = pd.Series(codes[order]).groupby(codes[order], sort=False).size().to_numpy()
        train_set = lgb.Dataset(x[order], labels[order], group=groups, params={"verbose": -1})
        return lgb.train(params, train_set, num_boost_round=self.config.trees)

    def _score(self, users, items):
        users, items = np.asarray(users, str), np.asarray(items, str)
        return self.booster_.predict(self._features(self.bases_, users, items))

    def known(self, users, items):
        """Users and items known to any base ranker."""
        parts = [b.known(users, items) for b in self.bases_.values()]
        return np.logical_or.reduce([u for u, _ in parts]), np.logical_or.reduce([i for _, i in parts])

    def _save_state(self, folder: Path) -> dict:
        from culturecart.persist import save_npz

        for key, base in self.bases_.items():
            base.write_into(folder / "bases" / key)
        (folder / "booster.txt").write_text(self.booster_.model_to_string(), encoding="utf-8")
        if self.features_ >= 2:
            save_npz(folder / "stats.npz", self.stats_.arrays())
        if self.target_labels_:
            save_npz(folder / "labelled.npz", dict(zip(("users", "items"), self.labelled_, strict=True)))
        return {"target": self.target_, "sources": self.sources_, "profile": [float(v) for v in self.profile_],
                "bases": sorted(self.bases_), "features": self.features_, "selection": self.selection_,
                "target_labels": self.target_labels_}

    @classmethod
    def _from_state(cls, config: ReRankerConfig, state: dict, files: Files) -> ReRanker:
        r = cls(config)
        r.target_, r.sources_ = state["target"], dict(state.get("sources") or {})
        r.profile_ = np.asarray(state["profile"], float)
        r.features_ = int(state.get("features", 1))  # folders written before feature set 2 hold set 1
        r.selection_ = list(state.get("selection") or [])
        r.target_labels_ = int(state.get("target_labels", 0))  # the target's own labelled lists (cross_fit)
        # listed in the header: read (and checked); folders written before the pairs were kept have none
        pairs = files.npz("labelled.npz") if "labelled.npz" in (files.digests or {}) else {}
        r.labelled_ = (pairs.get("users", np.array([], str)), pairs.get("items", np.array([], str)))
        r.bases_ = {k: files.fitted(f"bases/{k}", Ranker) for k in state["bases"]}
        r.booster_ = files.lightgbm("booster.txt")
        if r.features_ >= 2:
            r.stats_ = PairStats.from_arrays(files.npz("stats.npz"))
        return r

    def _arrays(self):  # the re-ranker saves bases and booster itself (_save_state)
        return {}

    def _restore(self, arrays):
        return None


def select_sources(markets: Markets, target: str, candidates: list[str], seed: int = 0
                   ) -> tuple[dict[str, float], list[dict]]:
    """Greedy forward selection of the sources: starting from the target alone, add the candidate that raises
    item-kNN's nDCG@10 on the inner hold-out lists most, while one does. Returns the chosen weights and the trace
    (each round's candidates and their inner nDCG@10), so which market's data helps has a ranker-level answer."""
    from culturecart.ranking.crossmarket import rank_scores

    inner_market, held = hold_out(markets[target], seed)
    inner = Markets(markets.root, {**markets.markets, target: inner_market})
    users, items, labels, _ = training_lists(held, markets[target], 99, np.random.default_rng(seed))
    qrel = pd.DataFrame({"userId": users[labels == 1], "itemId": items[labels == 1]})

    def inner_ndcg(chosen: list[str]) -> float:
        scores = ItemKNN().fit(inner, target, {s: 1.0 for s in chosen}).score(users, items)
        frame = pd.DataFrame({"userId": users, "itemId": items, "score": scores})
        return float(rank_scores(frame, qrel)["ndcg@10"].mean())

    chosen, best = [], inner_ndcg([])
    trace = [{"round": 0, "sources": [], "inner_ndcg@10": round(best, 6)}]
    left = list(candidates)
    while left:
        tried = {s: inner_ndcg([*chosen, s]) for s in left}
        pick = max(tried, key=tried.get)
        trace.append({"round": len(chosen) + 1, "tried": {k: round(v, 6) for k, v in tried.items()},
                      "best": pick, "inner_ndcg@10": round(tried[pick], 6)})
        if tried[pick] <= best:
            break
        chosen.append(pick)
        left.remove(pick)
        best = tried[pick]
    return {s: 1.0 for s in chosen}, trace


def _profile(country: str | None) -> list[float]:
    table = shipped_hofstede()
    if country is None or country not in table.index:
        return [np.nan] * len(DIMENSIONS)
    return [float(v) / 100.0 for v in table.loc[country, list(DIMENSIONS)]]
