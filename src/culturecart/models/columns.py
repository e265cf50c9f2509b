"""Tabular columns as the featurizer learns them: a number (optionally log1p) or a category with its levels.

A category keeps its ``max_levels`` most frequent levels. A level not seen in fit has no column of its own: it is
the **unseen level**, encoded as all-zero indicators (or as ``<other>`` where fit saw more levels than it keeps and
made that column), never as missing, and counted.

Example:
    >>> import pandas as pd
    >>> specs = fit_columns(pd.DataFrame({"c": ["x", "y", "x"], "n": [1.0, 2.0, 3.0]}), ["c", "n"], 30)
    >>> unseen = {}
    >>> encode(pd.DataFrame({"c": ["z"], "n": [5.0]}), specs, "items", unseen).tolist(), unseen
    ([[0.0, 0.0, 5.0]], {'c': 1})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from culturecart.errors import InvalidInputError

LOG_COLUMNS = {"price": "log1p", "review_count": "log1p"}
OTHER = "<other>"


@dataclass
class ColumnSpec:
    """One source column of a tabular block: a number (optionally log1p) or a category with its levels."""

    name: str
    kind: str  # "numeric" or "categorical"
    transform: str | None = None
    levels: list[str] = field(default_factory=list)
    other: bool = False

    def output_names(self) -> list[str]:
        if self.kind == "numeric":
            return [f"log1p_{self.name}" if self.transform == "log1p" else self.name]
        return [f"{self.name}={lv}" for lv in self.levels] + ([f"{self.name}={OTHER}"] if self.other else [])


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(values) or str(values.dtype) == "boolean" or \
        pd.api.types.is_numeric_dtype(values)


def fit_columns(frame: pd.DataFrame, columns: Sequence[str], max_levels: int,
                 transforms: dict[str, str] | None = None) -> list[ColumnSpec]:
    specs = []
    for col in columns:
        values = frame[col]
        if _is_numeric(values):
            specs.append(ColumnSpec(col, "numeric", (transforms or {}).get(col)))
        else:
            counts = values.dropna().astype(str).value_counts()
            specs.append(ColumnSpec(col, "categorical", levels=sorted(counts.index[:max_levels]),
                                    other=len(counts) > max_levels))
    return specs


def encode(frame: pd.DataFrame, specs: list[ColumnSpec], table: str, unseen: dict[str, int]) -> np.ndarray:
    missing = [s.name for s in specs if s.name not in frame.columns]
    if missing:
        raise InvalidInputError(f"{table}: column(s) {missing} were used when the model was fitted but are missing "
                                f"here; found {sorted(map(str, frame.columns))}")
    n = len(frame)
    parts = []
    for spec in specs:
        values = frame[spec.name]
        if spec.kind == "numeric":
            if pd.api.types.is_bool_dtype(values) or str(values.dtype) == "boolean":
                values = values.astype("Float64")
            arr = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
            bad = np.isnan(arr) & values.notna().to_numpy()
            if bad.any():
                rows = np.flatnonzero(bad)
                raise InvalidInputError(f"{table}.{spec.name}: the model was fitted on numbers here, but rows "
                                        f"{rows[:10].tolist()} hold {values.iloc[rows[0]]!r}")
            if spec.transform == "log1p":
                arr = np.log1p(np.maximum(arr, 0))
            parts.append(arr[:, None].astype(np.float32))
            continue
        text = values.astype(object).where(values.notna(), None)
        as_str = text.astype(str)
        cols = [(as_str == lv).to_numpy(np.float32) for lv in spec.levels]
        known = text.isin(spec.levels) | text.isna()
        if spec.other:
            cols.append((~known).to_numpy(np.float32))
        elif (~known).any():
            unseen[spec.name] = unseen.get(spec.name, 0) + int((~known).sum())
        block = np.stack(cols, axis=1) if cols else np.zeros((n, 0), np.float32)
        block[text.isna().to_numpy()] = np.nan
        parts.append(block)
    if not parts:
        return np.zeros((n, 0), np.float32)
    return np.concatenate(parts, axis=1).astype(np.float32)


def output_names(specs: list[ColumnSpec]) -> list[str]:
    return [name for s in specs for name in s.output_names()]
