"""User history features: the user's sessions, purchases and purchase rate in strictly earlier sessions.

Sessions are ordered by start time (a session without one last), then by a hash of the session id: a stable,
order-free rule, so an event's history does not depend on how the data is chunked, ordered or split into files.

History is computed in two steps that work the same on one table and on a stream of batches
(:class:`SessionIndex`): ``add`` each batch's events (only user, session, start and purchases are kept, as 64-bit
hashes and integers, 32 bytes per session), then ``build`` a :class:`HistoryLookup` (16 bytes per session) that
gives any event its user's history. A session split over several batches or files counts once, with its earliest
start and all its purchases. Two different (user, session) pairs share a 64-bit hash with a probability of about
n^2 / 2^65 (1e-6 for five million sessions).

Example:
    >>> import pandas as pd
    >>> events = pd.DataFrame({"user_id": ["u", "u"], "session_id": ["s1", "s2"], "purchased": [1, 0],
    ...                        "timestamp": ["2024-01-01", "2024-01-02"]})
    >>> history_features(events)["user_prior_purchases"].tolist()
    [0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HISTORY_NAMES = ["user_prior_sessions", "user_prior_purchases", "user_prior_purchase_rate"]
_NO_START = np.iinfo(np.int64).max  # a session without a start sorts last, as pandas puts NaT last
_MIX = np.uint64(0x9E3779B97F4A7C15)


def session_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, session): its start and the purchases in it (0 where the events carry no label)."""
    ev = pd.DataFrame({"user_id": events["user_id"].astype(str), "session_id": events["session_id"].astype(str),
                       "timestamp": pd.to_datetime(events["timestamp"]),
                       "purchased": events.get("purchased", 0)})
    return ev.groupby(["user_id", "session_id"], sort=False).agg(
        start=("timestamp", "min"), bought=("purchased", "sum")).reset_index()


def _hash(values) -> np.ndarray:
    return pd.util.hash_array(np.asarray(pd.Series(values).astype(str), dtype=object))


def pair_keys(users, sessions) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of each user and of each (user, session) pair."""
    hu = _hash(users)
    with np.errstate(over="ignore"):
        key = hu ^ (_hash(sessions) * _MIX + (hu << np.uint64(6)) + (hu >> np.uint64(2)))
    return hu, key


def _starts(timestamps) -> np.ndarray:
    t = pd.to_datetime(pd.Series(timestamps))
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    values = t.to_numpy("datetime64[ns]").astype(np.int64)
    values[t.isna().to_numpy()] = _NO_START
    return values


_FIELDS = ("user", "key", "start", "bought")


@dataclass
class _Sessions:
    user: np.ndarray  # uint64 hash of the user
    key: np.ndarray  # uint64 hash of (user, session)
    start: np.ndarray  # int64 ns, _NO_START when unknown
    bought: np.ndarray  # int32

    @classmethod
    def concat(cls, parts: list[_Sessions]) -> _Sessions:
        """The parts one after the other; each part's arrays are released as soon as they are copied (the peak is
        the data plus one field, not twice the data)."""
        if not parts:
            return cls(*(np.empty(0, t) for t in (np.uint64, np.uint64, np.int64, np.int32)))
        fields = {}
        for f in _FIELDS:
            fields[f] = np.concatenate([getattr(p, f) for p in parts])
            for p in parts:
                setattr(p, f, None)
        return cls(**fields)

    def reorder(self, order: np.ndarray) -> None:
        """Permute (or select) the rows in place, one field at a time."""
        for f in _FIELDS:
            setattr(self, f, getattr(self, f)[order])

    def combined(self) -> _Sessions:
        """One row per key: the earliest start, the sum of purchases (rows sorted by key; done in place)."""
        if len(self.key) == 0:
            return self
        self.reorder(np.argsort(self.key, kind="stable"))
        first = np.flatnonzero(np.r_[True, self.key[1:] != self.key[:-1]])
        if len(first) == len(self.key):
            return self  # no session was split between batches
        return _Sessions(self.user[first], self.key[first], np.minimum.reduceat(self.start, first),
                         np.add.reduceat(self.bought, first))


def _sessions_of(users, sessions, timestamps, purchased) -> _Sessions:
    hu, key = pair_keys(users, sessions)
    bought = np.zeros(len(hu), np.int32) if purchased is None else \
        pd.Series(purchased).fillna(0).to_numpy(np.int32)
    return _Sessions(hu, key, _starts(timestamps), bought).combined()


def summarise(events: pd.DataFrame) -> _Sessions | None:
    """One batch's sessions, compact (None when the batch cannot give history: no user ids or timestamps, or a
    missing timestamp)."""
    if not {"timestamp", "user_id"} <= set(events.columns) or events["timestamp"].isna().any():
        return None
    return _sessions_of(events["user_id"], events["session_id"], events["timestamp"],
                        events["purchased"] if "purchased" in events.columns else None)


class SessionIndex:
    """Sessions gathered batch by batch, then turned into a :class:`HistoryLookup` (see the module docstring).

    ``stored`` (a :func:`session_table`: the sessions seen at fit time) wins over the batches' copy of the same
    session. ``complete`` turns False when a batch lacks timestamps or user ids, or has a missing timestamp: the
    whole-table rule then gives no history at all (unknown, not zero).

    Example:
        >>> import pandas as pd
        >>> ev = pd.DataFrame({"user_id": ["u", "u", "u"], "session_id": ["a", "b", "b"], "purchased": [1, 0, 1],
        ...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"])})
        >>> index = SessionIndex()
        >>> index.add(ev.iloc[:2]); index.add(ev.iloc[2:])
        >>> index.build().lookup(ev)["user_prior_purchases"].tolist()
        [0.0, 1.0, 1.0]
    """

    def __init__(self, stored: pd.DataFrame | None = None) -> None:
        self._stored = _sessions_of(stored["user_id"], stored["session_id"], stored["start"], stored["bought"]) \
            if stored is not None and len(stored) else None
        self._parts: list[_Sessions] = []
        self.complete = True

    def add(self, events: pd.DataFrame) -> None:
        """Keep the sessions of one batch of events (compactly)."""
        self.add_summary(summarise(events))

    def add_summary(self, summary: _Sessions | None) -> None:
        """Keep a batch's sessions summarised elsewhere (:func:`summarise`, e.g. on a cluster's worker)."""
        if summary is None:
            self.complete = False
        if self.complete and summary is not None and len(summary.key):
            self._parts.append(summary)

    def build(self) -> HistoryLookup | None:
        """The history of every session added (None when the data cannot give one: ``complete`` is False).

        Works in place on the gathered arrays, one field at a time, so its peak stays near twice the 32 bytes per
        session it gathered (``benchmarks/predict_scale.py`` measures the whole scorer's)."""
        if not self.complete:
            return None
        s = _Sessions.concat(self._parts).combined()
        self._parts = []
        if self._stored is not None:
            s.reorder(~np.isin(s.key, self._stored.key))
            s = _Sessions.concat([_Sessions(*(getattr(self._stored, f).copy() for f in _FIELDS)), s])
        # Within a user: by start, then by the session's own hash (key), so ties need no session ids.
        s.reorder(np.lexsort((s.key, s.start, s.user)))
        n = len(s.key)
        heads = np.flatnonzero(np.r_[True, s.user[1:] != s.user[:-1]]) if n else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[heads, n])
        s.user = s.start = None  # what follows needs only the keys and purchases
        prior_sessions = (np.arange(n) - np.repeat(heads, sizes)).astype(np.uint32)
        before = np.cumsum(s.bought, dtype=np.int64)
        before -= s.bought
        before -= np.repeat(before[heads], sizes)
        prior_purchases = before.astype(np.uint32)
        del before
        by_key = np.argsort(s.key, kind="stable")
        return HistoryLookup(s.key[by_key], prior_sessions[by_key], prior_purchases[by_key])


@dataclass
class HistoryLookup:
    """Each session's prior sessions and prior purchases, by the (user, session) hash (sorted)."""

    keys: np.ndarray
    prior_sessions: np.ndarray
    prior_purchases: np.ndarray

    def lookup(self, events: pd.DataFrame) -> pd.DataFrame:
        """:data:`HISTORY_NAMES` for each event (row order kept)."""
        _, key = pair_keys(events["user_id"], events["session_id"])
        pos = np.searchsorted(self.keys, key)
        pos[pos >= len(self.keys)] = 0
        found = (self.keys[pos] == key) if len(self.keys) else np.zeros(len(key), bool)
        if not found.all():
            raise ValueError(f"{int((~found).sum()):,} events have sessions the history index never saw (the data "
                             "changed between the two passes over it)")
        sessions = self.prior_sessions[pos].astype(float)
        purchases = self.prior_purchases[pos].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(sessions > 0, purchases / np.where(sessions > 0, sessions, 1), np.nan)
        return pd.DataFrame({"user_prior_sessions": sessions, "user_prior_purchases": purchases,
                             "user_prior_purchase_rate": rate})

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.prior_sessions.nbytes + self.prior_purchases.nbytes)


def history_features(events: pd.DataFrame, stored: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per event: the user's sessions, purchases and purchase rate in strictly earlier sessions.

    ``stored`` holds sessions seen before (at fit time); a session in both counts once (the stored copy). The
    same computation as a :class:`SessionIndex` fed batch by batch.
    """
    index = SessionIndex(stored)
    index.add(events)
    lookup = index.build()
    if lookup is None:
        raise ValueError("history needs user ids and a timestamp on every event")
    return lookup.lookup(events)
