"""Modality contributions from the metric of every modality subset: ablations and exact Shapley values.

With v(S) the metric of a model trained on modality subset S (v of the empty set = the metric of a
constant prediction, 0.5 for AUC), the Shapley value of modality i is

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)),

exact over all 2^n subsets (n <= 5 here), so the values add up to v(all) - v(empty).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence


def modality_shapley(values: Mapping[frozenset[str], float], modalities: Sequence[str],
                     empty_value: float = 0.5) -> dict[str, float]:
    """Exact Shapley value of each modality; ``values`` must hold every non-empty subset."""
    n = len(modalities)

    def v(subset: frozenset[str]) -> float:
        if not subset:
            return empty_value
        if subset not in values:
            raise KeyError(f"no value for modality subset {sorted(subset)}")
        return values[subset]

    phi = {}
    for m in modalities:
        others = [o for o in modalities if o != m]
        total = 0.0
        for r in range(len(others) + 1):
            weight = math.factorial(r) * math.factorial(n - r - 1) / math.factorial(n)
            for combo in itertools.combinations(others, r):
                s = frozenset(combo)
                total += weight * (v(s | {m}) - v(s))
        phi[m] = total
    return phi


def leave_one_out(values: Mapping[frozenset[str], float], modalities: Sequence[str]) -> dict[str, float]:
    """v(all) - v(all without m): what is lost when one modality is removed."""
    full = frozenset(modalities)
    return {m: values[full] - values[full - {m}] for m in modalities if full - {m} in values}


def add_one(values: Mapping[frozenset[str], float], modalities: Sequence[str], base: Sequence[str],
            ) -> dict[str, float]:
    """v(base + m) - v(base) for each modality not in ``base``."""
    b = frozenset(base)
    return {m: values[b | {m}] - values[b] for m in modalities if m not in b and (b | {m}) in values}
