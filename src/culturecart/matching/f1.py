"""The competition metric: mean over rows of the F1 between predicted and true match sets (self included).

Example:
    >>> truth = {"a": {"a", "b"}, "b": {"a", "b"}, "c": {"c"}}
    >>> round(mean_f1({"a": ["a", "b"], "b": ["b"], "c": ["c", "a"]}, truth), 4)  # (1 + 2/3 + 2/3) / 3
    0.7778
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


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
