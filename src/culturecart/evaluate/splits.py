"""Train / validation / test splits without leakage: by user, by session, or by time.

Grouped splits keep every row of a user, session or item on one side. Split by ``item`` to ask
whether content (text, images) generalises to items never seen in training: with items shared
between train and test, any item-identifying column (an exact price, say) lets a model memorise
each item's popularity, and content modalities then add nothing measurable. The time split puts the latest
``test_share`` of sessions in the test set and the ones just before them in validation, so no
model sees the future.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from culturecart.errors import InvalidInputError, UsageError
from culturecart.models.features import ModalityData

SPLITS = ("user", "session", "item", "time")


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    by: str


def make_split(data: ModalityData, by: str = "user", test_share: float = 0.2, valid_share: float = 0.1,
               seed: int = 0) -> Split:
    """Row indices of train / valid / test; ``by`` is ``user``, ``session``, ``item`` or ``time``."""
    if by in ("user", "session", "item"):
        keys = data.meta[f"{by}_id"].astype(str).to_numpy()
        unique = np.unique(keys)
        rng = np.random.default_rng(seed)
        shuffled = rng.permutation(unique)
        n_test = int(round(test_share * len(unique)))
        n_valid = int(round(valid_share * len(unique)))
        part = {k: 2 for k in shuffled[:n_test]} | {k: 1 for k in shuffled[n_test:n_test + n_valid]}
        side = np.array([part.get(k, 0) for k in keys])
    elif by == "time":
        if "timestamp" not in data.meta.columns:
            raise InvalidInputError("a time split needs event timestamps (events.timestamp)")
        start = data.meta.groupby("session_id")["timestamp"].transform("min").to_numpy()
        order = np.sort(np.unique(start))
        t_test = order[int(len(order) * (1 - test_share))]
        t_valid = order[int(len(order) * (1 - test_share - valid_share))]
        side = np.where(start >= t_test, 2, np.where(start >= t_valid, 1, 0))
    else:
        raise UsageError(f"split by must be 'user', 'session', 'item' or 'time', not {by!r}")
    train, valid, test = (np.flatnonzero(side == k) for k in (0, 1, 2))
    if min(len(train), len(valid), len(test)) == 0:
        raise InvalidInputError(f"split by {by} left an empty part (train {len(train)}, valid {len(valid)}, test {len(test)})")
    return Split(train, valid, test, by)
