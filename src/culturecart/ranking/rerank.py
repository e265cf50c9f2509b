"""The LambdaRank re-ranker: LightGBM over candidate lists, from every base ranker's scores.

Features of a (user, candidate) pair: popularity, item-kNN, EASE and ALS scores computed on the scope's data
(target + weighted sources) and on the target alone; popularity and item-kNN computed on each source market
alone (the source's co-occurrences applied to the target user's history); the item's popularity in every
market of the scope; the target market's Hofstede profile (constant within one target, used when lists of
several targets are pooled). EASE and ALS are not fitted per source: a source-only EASE costs an item x item
inversion per source, and a source-only factorisation has no factors for the target's users.

Training follows the protocol's division of labour: the **third-last** interaction of each user (the last one
of the training data) is held out, the base rankers are fitted on the rest, and the re-ranker learns to put
that held-out item first among ``negatives`` sampled items the user never rated. The validation interaction
only selects scopes and hyperparameters elsewhere; the test interaction is never read.

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
from culturecart.parallel import thread_budget
from culturecart.persist import Files
from culturecart.ranking.markets import Market, Markets
from culturecart.ranking.rankers import EASE, ItemKNN, MatrixFactorisation, Popularity, Ranker, _weights

SCOPE_RANKERS = {"popularity": Popularity, "itemknn": ItemKNN, "ease": EASE, "als": MatrixFactorisation}
SOURCE_RANKERS = {"popularity": Popularity, "itemknn": ItemKNN}


class ReRankerConfig(BaseModel):
    """The re-ranker's options (its base rankers' options where it passes them on)."""

    model_config = ConfigDict(extra="forbid")

    trees: int = Field(200, ge=1, description="LambdaRank boosting rounds")
    negatives: int = Field(99, ge=1, description="sampled negatives per held-out positive in the training lists")
    factors: int = Field(64, ge=1, description="ALS factors of the base ranker")
    l2: float = Field(200.0, gt=0, description="EASE's L2 strength of the base ranker")
    seed: int = 0


def hold_out_last(market: Market) -> tuple[Market, pd.DataFrame]:
    """The market without each user's last training interaction (by date, then file order), and those rows.

    Users with a single training interaction keep it (nothing would remain to learn from).
    """
    train = market.train.reset_index(drop=True)
    order = train.assign(_row=np.arange(len(train)))
    if "date" in order:
        order = order.sort_values(["userId", "date", "_row"], kind="stable")
    else:
        order = order.sort_values(["userId", "_row"], kind="stable")
    last = order.groupby("userId", sort=False).cumcount(ascending=False).to_numpy() == 0
    many = order.groupby("userId", sort=False)["itemId"].transform("size").to_numpy() >= 2
    held = order[last & many]
    kept = order[~(last & many)].sort_values("_row").drop(columns="_row")
    return Market(market.name, kept.reset_index(drop=True)), held.drop(columns="_row").reset_index(drop=True)


def sample_lists(held: pd.DataFrame, market: Market, negatives: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, labels) of candidate lists: each held-out positive first, then sampled unrated items."""
    items = np.array(sorted(market.train["itemId"].astype(str).unique()))
    rated = market.train.groupby("userId")["itemId"].agg(set)
    users, cands, labels = [], [], []
    for user, positive in zip(held["userId"].astype(str), held["itemId"].astype(str), strict=True):
        seen = rated.get(user, set()) | {positive}
        pool = items[~np.isin(items, list(seen))]
        drawn = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
        users += [user] * (len(drawn) + 1)
        cands += [positive, *drawn.tolist()]
        labels += [1] + [0] * len(drawn)
    return np.array(users, str), np.array(cands, str), np.array(labels, np.int32)


class ReRanker(Ranker):
    """LightGBM LambdaRank over the base rankers' scores (see the module docstring)."""

    name = "rerank"
    config_class = ReRankerConfig
    fitted_attribute = "booster_"
    cheap = False

    def _bases(self, markets: Markets, target: str, weights: dict[str, float]) -> dict[str, Ranker]:
        c = self.config
        params = {"ease": {"l2": c.l2}, "als": {"factors": c.factors, "seed": c.seed}}
        bases: dict[str, Ranker] = {}
        for name, cls in SCOPE_RANKERS.items():
            bases[f"{name}@scope"] = cls(**params.get(name, {})).fit(markets, target, weights)
            if weights:
                bases[f"{name}@target"] = cls(**params.get(name, {})).fit(markets, target, {})
        for source in sorted(weights):
            for name, cls in SOURCE_RANKERS.items():
                bases[f"{name}@{source}"] = cls(target_weight=0.0).fit(markets, target, {source: 1.0})
        return bases

    def _features(self, bases: dict[str, Ranker], users: np.ndarray, items: np.ndarray) -> np.ndarray:
        cols = [bases[k].score(users, items) for k in sorted(bases)]
        profile = np.asarray(self.profile_, float)
        cols += [np.full(len(users), v) for v in profile]
        return np.column_stack(cols).astype(np.float32)

    @property
    def weights_(self) -> dict[str, float]:
        return self.sources_

    def fit(self, markets, target, sources=()):
        weights = {s: w for s, w in _weights(sources).items() if s != target and w > 0}
        self.target_, self.sources_ = target, weights
        self.profile_ = _profile(markets[target].country)
        rng = np.random.default_rng(self.config.seed)
        inner_market, held = hold_out_last(markets[target])
        inner = Markets(markets.root, {**markets.markets, target: inner_market})
        users, items, labels = sample_lists(held, markets[target], self.config.negatives, rng)
        x = self._features(self._bases(inner, target, weights), users, items)
        groups = pd.Series(users).groupby(users, sort=False).size().to_numpy()
        order = np.argsort(pd.factorize(users)[0], kind="stable")
        dataset = lgb.Dataset(x[order], labels[order], group=groups, params={"verbose": -1})
        params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "learning_rate": 0.05,
                  "num_leaves": 15, "min_data_in_leaf": 50, "feature_fraction": 0.9, "verbose": -1,
                  "deterministic": True, "force_row_wise": True, "seed": self.config.seed,
                  "num_threads": thread_budget()}
        self.booster_ = lgb.train(params, dataset, num_boost_round=self.config.trees)
        self.bases_ = self._bases(markets, target, weights)
        return self

    def _score(self, users, items):
        users, items = np.asarray(users, str), np.asarray(items, str)
        return self.booster_.predict(self._features(self.bases_, users, items))

    def known(self, users, items):
        """Users and items known to any base ranker."""
        parts = [b.known(users, items) for b in self.bases_.values()]
        return np.logical_or.reduce([u for u, _ in parts]), np.logical_or.reduce([i for _, i in parts])

    def _save_state(self, folder: Path) -> dict:
        for key, base in self.bases_.items():
            base.write_into(folder / "bases" / key)
        (folder / "booster.txt").write_text(self.booster_.model_to_string(), encoding="utf-8")
        return {"target": self.target_, "sources": self.sources_, "profile": [float(v) for v in self.profile_],
                "bases": sorted(self.bases_)}

    @classmethod
    def _from_state(cls, config: ReRankerConfig, state: dict, files: Files) -> ReRanker:
        r = cls(config)
        r.target_, r.sources_ = state["target"], dict(state.get("sources") or {})
        r.profile_ = np.asarray(state["profile"], float)
        r.bases_ = {k: files.fitted(f"bases/{k}", Ranker) for k in state["bases"]}
        r.booster_ = files.lightgbm("booster.txt")
        return r

    def _arrays(self):  # the re-ranker saves bases and booster itself (_save_state)
        return {}

    def _restore(self, arrays):
        return None


def _profile(country: str | None) -> list[float]:
    table = shipped_hofstede()
    if country is None or country not in table.index:
        return [np.nan] * len(DIMENSIONS)
    return [float(v) / 100.0 for v in table.loc[country, list(DIMENSIONS)]]
