"""The competition metric: mean over rows of the F1 between predicted and true match sets (self included).

Example:
    >>> truth = {"a": {"a", "b"}, "b": {"a", "b"}, "c": {"c"}}
    >>> round(mean_f1({"a": ["a", "b"], "b": ["b"], "c": ["c", "a"]}, truth), 4)  # (1 + 2/3 + 2/3) / 3
    0.7778
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.errors import InvalidInputError


def row_f1(predicted: set, true: set) -> float:
    if not predicted and not true:
        return 1.0
    return 2.0 * len(predicted & true) / (len(predicted) + len(true))


def true_matches(posting_ids: Sequence[str], label_groups: Sequence[str]) -> dict[str, set[str]]:
    """Each posting's group members (itself included)."""
    frame = pd.DataFrame({"p": list(posting_ids), "g": list(label_groups)})
    members = frame.groupby("g")["p"].agg(set)
    return dict(zip(frame["p"], frame["g"].map(members), strict=True))


def mean_f1(predicted: Mapping[str, Sequence[str]], truth: Mapping[str, set[str]]) -> float:
    """Mean row F1 over the rows of ``truth`` (a row without a prediction scores as an empty set)."""
    return float(np.mean([row_f1(set(predicted.get(p, ())), t) for p, t in truth.items()]))


def read_submission(path: str | Path, posting_ids: Sequence[str], allow_missing: bool = False) -> dict[str, list[str]]:
    """A ``posting_id,matches`` submission checked against the scored listings.

    :class:`~culturecart.errors.InvalidInputError` (naming the file, rows and ids) for a missing or empty
    file, missing columns, duplicate ``posting_id`` rows, ids or matches that are not among ``posting_ids``,
    and listings absent from the submission unless ``allow_missing`` (they then score as matching nothing).
    """
    from culturecart.data.adapters._common import read_csv

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InvalidInputError(f"submission {path} is empty (expected a posting_id,matches header)")
    sub = read_csv(path, None, ["posting_id", "matches"], allow_empty=True, dtype=str, keep_default_na=False)
    known = set(posting_ids)
    dup = sub["posting_id"].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        raise InvalidInputError(f"submission {path}: duplicate posting_id in rows {rows[:10].tolist()}, "
                                f"e.g. {sub['posting_id'].iat[rows[0]]!r}")
    unknown = ~sub["posting_id"].isin(known)
    if unknown.any():
        rows = np.flatnonzero(unknown.to_numpy())
        raise InvalidInputError(f"submission {path}: {len(rows)} posting_id(s) not among the scored listings, "
                                f"rows {rows[:10].tolist()}, e.g. {sub['posting_id'].iat[rows[0]]!r}")
    matches = sub["matches"].str.split()
    bad = [(i, m) for i, ms in enumerate(matches) for m in ms if m not in known]
    if bad:
        raise InvalidInputError(f"submission {path}: matches name {len(bad)} id(s) not among the scored listings, "
                                f"rows {sorted({i for i, _ in bad})[:10]}, e.g. {bad[0][1]!r}")
    absent = known - set(sub["posting_id"])
    if absent and not allow_missing:
        raise InvalidInputError(f"submission {path}: {len(absent)} of {len(known)} listings have no row, e.g. "
                                f"{sorted(absent)[:3]}; pass --allow-missing to score them as matching nothing")
    return dict(zip(sub["posting_id"], matches, strict=True))
