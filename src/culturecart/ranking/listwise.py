"""What the re-ranker knows about a (user, candidate) pair beyond the base rankers' raw scores (its second feature
set), and how its training lists are drawn.

* **List-relative** views of every base score, computed within each user's candidate list: the percentile rank (1 =
  the list's best), the gap to the list's best, the z-score within the list. A raw item-kNN score of 3.2 means
  little on its own; "the best of this user's hundred candidates by 0.8" is what a ranking needs.
* **Item statistics** of the target market: interactions, the mean and number of explicit 1-5 ratings (the 5-core
  rows are implicit), the number of markets that carry the item, whether it is among the target's candidate items.
* **User statistics**: history length, mean explicit rating, and the share of the user's items that each source
  also sells (their mean and maximum over the sources).
* **The market**: its Hofstede profile (NaN where the market is not a country) and its size, so that lists of
  several targets can train one model.

Training lists (:func:`training_lists`) are drawn as the evaluation lists are: one held-out interaction per user
(the last by date where the market has dates, else a seeded random one of the user's 5-core rows, never the file
order) and negatives drawn uniformly from the market's candidate items (``Market.core_items``: the official WSDM
lists draw theirs from the 5-core's items) that the user never rated.

Example:
    >>> import numpy as np
    >>> users = np.array(["u", "u", "u", "v", "v"])
    >>> relative(np.array([3.0, 1.0, 2.0, 5.0, 5.0]), users)[:, 0].round(2).tolist()  # percentile rank
    [1.0, 0.33, 0.67, 0.75, 0.75]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.errors import InvalidInputError
from culturecart.ranking.markets import Market, Markets

USER_STATS = ("history", "mean_rating", "explicit_share", "source_share_mean", "source_share_max")
ITEM_STATS = ("interactions", "mean_rating", "ratings", "markets", "candidate")
MARKET_STATS = ("log_users", "log_items")


def relative(score: np.ndarray, users: np.ndarray) -> np.ndarray:
    """Per pair, within its user's list: percentile rank (1 = best, ties share their average rank), gap to the
    list's best score, z-score (0 where the list's scores are all equal)."""
    frame = pd.DataFrame({"s": score, "u": users})
    grouped = frame.groupby("u", sort=False)["s"]
    pct = grouped.rank(pct=True, method="average").to_numpy()
    gap = grouped.transform("max").to_numpy() - score
    sd = grouped.transform("std", ddof=0).to_numpy()
    z = np.where(sd > 0, (score - grouped.transform("mean").to_numpy()) / np.where(sd > 0, sd, 1.0), 0.0)
    return np.column_stack([pct, gap, z])


def hold_out(market: Market, seed: int, per_user: int = 1) -> tuple[Market, pd.DataFrame]:
    """The market without ``per_user`` interactions of each user who has more, and those interactions: the last
    by date where there are dates; otherwise seeded random ones among the user's 5-core rows (all rows without a
    5-core), chosen by a hash of the pair and the seed, so neither the file order nor the other users matter."""
    train = market.train.reset_index(drop=True)
    many = train.groupby("userId")["itemId"].transform("size").to_numpy() > per_user
    if "date" in train:
        order = train.assign(_row=np.arange(len(train))).sort_values(["userId", "date", "_row"], kind="stable")
        last = order.groupby("userId", sort=False).cumcount(ascending=False).to_numpy() < per_user
        held_rows = order.index[last & many[order.index]]
    else:
        eligible = train["core"].to_numpy(bool) if "core" in train else np.ones(len(train), bool)
        key = pd.util.hash_pandas_object(train[["userId", "itemId"]].astype(str), index=False).to_numpy()
        salted = (key ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)) * np.uint64(0xBF58476D1CE4E5B9)
        frame = pd.DataFrame({"user": train["userId"].to_numpy(), "key": salted})[eligible & many]
        held_rows = frame.sort_values("key", kind="stable").groupby("user", sort=False).head(per_user).index
    held = train.loc[np.sort(np.asarray(held_rows))]
    kept = train.drop(index=held.index)
    held = held.sort_values("userId", kind="stable")  # lists in user order: the draws do not follow the file
    return Market(market.name, kept.reset_index(drop=True)), held.reset_index(drop=True)


def require_columns(table: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Refuse a table (or anything else) that lacks one of ``columns``, naming them and what it has."""
    if not isinstance(table, pd.DataFrame):
        raise InvalidInputError(f"{what} must be a pandas DataFrame with columns {list(columns)} (got "
                                f"{type(table).__name__})")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InvalidInputError(f"{what} lacks column(s) {missing}; it has {[str(c) for c in table.columns]}")


def run_pairs(run: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of every candidate of a run (one row per user, a list of ``candidates``), in the run's order.
    A table without those columns is an :class:`~culturecart.errors.InvalidInputError` naming what is missing."""
    require_columns(run, ("userId", "candidates"), "the run")
    exploded = run.explode("candidates").dropna(subset=["candidates"])
    return exploded["userId"].to_numpy(str), exploded["candidates"].to_numpy(str)


def training_lists(held: pd.DataFrame, market: Market, negatives: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, labels, list ids): each held-out positive, then ``negatives`` items drawn uniformly from the
    market's candidate items the user never rated (its whole training data counts as rated); one list per
    held-out interaction."""
    pool_all = market.core_items
    rated = market.train.groupby("userId")["itemId"].agg(set)
    users, cands, labels, lists = [], [], [], []
    for k, (user, positive) in enumerate(zip(held["userId"].astype(str), held["itemId"].astype(str), strict=True)):
        seen = rated.get(user, set()) | {positive}
        pool = pool_all[~np.isin(pool_all, list(seen))]
        drawn = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
        users += [user] * (len(drawn) + 1)
        cands += [positive, *drawn.tolist()]
        labels += [1] + [0] * len(drawn)
        lists += [k] * (len(drawn) + 1)
    return np.array(users, str), np.array(cands, str), np.array(labels, np.int32), np.array(lists)


class PairStats:
    """Item, user and market statistics of a target (with its sources), looked up per pair."""

    def __init__(self, markets: Markets, target: str, sources: list[str]) -> None:
        train = markets[target].train
        explicit = ~train["implicit"].to_numpy(bool) if "implicit" in train else np.ones(len(train), bool)
        ratings = train.loc[explicit]
        item_count = train.groupby("itemId").size()
        carried = pd.concat([markets[m].train[["itemId"]].drop_duplicates().assign(m=m) for m in markets.names])
        n_markets = carried.groupby("itemId")["m"].nunique()
        items = item_count.index.union(n_markets.index)
        self.items = np.asarray(items, dtype=str)
        candidate = pd.Index(markets[target].core_items)
        self.item_values = np.column_stack([
            np.log1p(item_count.reindex(items).fillna(0).to_numpy(float)),
            ratings.groupby("itemId")["rating"].mean().reindex(items).to_numpy(float),
            np.log1p(ratings.groupby("itemId").size().reindex(items).fillna(0).to_numpy(float)),
            n_markets.reindex(items).fillna(0).to_numpy(float),
            items.isin(candidate).astype(float)]).astype(np.float32)
        history = train.groupby("userId")["itemId"].agg(set)
        self.users = np.asarray(history.index, dtype=str)
        shares = np.zeros((len(history), max(len(sources), 1)))
        for j, source in enumerate(sources):
            sold = set(markets[source].train["itemId"].astype(str))
            shares[:, j] = [len(h & sold) / len(h) for h in history]
        counts = train.groupby("userId").size().reindex(history.index).to_numpy(float)
        user_explicit = pd.Series(explicit, index=train.index).groupby(train["userId"]).mean()
        self.user_values = np.column_stack([
            np.log1p(counts), ratings.groupby("userId")["rating"].mean().reindex(history.index).to_numpy(float),
            user_explicit.reindex(history.index).to_numpy(float),
            shares.mean(axis=1) if sources else np.full(len(history), np.nan),
            shares.max(axis=1) if sources else np.full(len(history), np.nan)]).astype(np.float32)
        self.market_values = np.array([np.log(max(len(self.users), 1)),
                                       np.log(max(train["itemId"].nunique(), 1))], np.float32)

    def lookup(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Rows of (user stats, item stats, market stats) per pair; NaN for users or items the market lacks."""
        return np.column_stack([_take(self.user_values, self.users, users),
                                _take(self.item_values, self.items, items),
                                np.tile(self.market_values, (len(users), 1))])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"stats_items": self.items, "stats_item_values": self.item_values, "stats_users": self.users,
                "stats_user_values": self.user_values, "stats_market_values": self.market_values}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> PairStats:
        stats = cls.__new__(cls)
        stats.items, stats.item_values = a["stats_items"].astype(str), a["stats_item_values"]
        stats.users, stats.user_values = a["stats_users"].astype(str), a["stats_user_values"]
        stats.market_values = a["stats_market_values"]
        return stats


def _take(values: np.ndarray, index: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(index, keys)
    pos = np.clip(pos, 0, max(len(index) - 1, 0))
    ok = (index[pos] == keys) if len(index) else np.zeros(len(keys), bool)
    out = np.full((len(keys), values.shape[1]), np.nan, np.float32)
    out[ok] = values[pos[ok]]
    return out
