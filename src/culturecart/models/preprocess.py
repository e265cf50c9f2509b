"""Per-modality preprocessing fitted on training rows only: impute, indicate missing, standardise.

Tabular blocks: NaN -> the training median, plus a 0/1 indicator column for every column that had
missing values in training, then standardised. With ``log_skewed``, tabular columns that are
non-negative, not binary and right-skewed in training (sample skewness > ``SKEW_LIMIT``: counts,
durations, prices) pass through log1p first, so a few extreme rows do not dominate a linear model or
a network's first layer. Embedding blocks: standardised over present rows;
rows without the modality are set to 0 *and* reported in the returned mask, which the models use
(the transformer masks the token; the MLPs get a presence input), so nothing is silently zero-filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import skew

from culturecart.errors import InvalidInputError
from culturecart.models.blocks import CHUNK_ROWS
from culturecart.models.features import ModalityData


@dataclass
class BlockStats:
    median: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    indicate: np.ndarray  # columns that get a missing-value indicator (tabular only)
    kind: str
    log: np.ndarray | None = None  # columns that pass through log1p before imputation (tabular only)
    partial: bool | None = None  # some training rows lacked the modality (None: saved before this was kept)

    def presence_input(self, present: np.ndarray) -> bool:
        """Whether models that read a dense matrix get this modality's presence as an input column.

        Decided at fit time (embeddings always; tabular blocks when some training rows lacked them), so the
        matrix has the same columns whatever data is scored.
        """
        if self.kind == "embedding":
            return True
        return bool(self.partial) if self.partial is not None else not present.all()


SKEW_LIMIT = 2.0


def log1p_columns(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``x`` with log1p applied to the masked columns (an unseen negative value maps to log1p(0))."""
    if mask is None or not mask.any():
        return x
    x = x.copy()
    x[:, mask] = np.log1p(np.maximum(x[:, mask], 0.0))
    return x


def skewed_columns(x: np.ndarray) -> np.ndarray:
    """Columns that are non-negative, take more than two values and have sample skewness > SKEW_LIMIT."""
    out = np.zeros(x.shape[1], bool)
    for j in range(x.shape[1]):
        col = x[:, j][~np.isnan(x[:, j])]
        if len(col) < 3 or col.min() < 0 or np.all((col == col.min()) | (col == col.max())):
            continue  # negative values or at most two distinct values (a flag)
        out[j] = float(skew(col)) > SKEW_LIMIT
    return out


def token_groups(names: list[str]) -> np.ndarray:
    """Group output columns into model tokens: one per source feature (all levels of a one-hot
    categorical and a column's missing indicator share their feature's token)."""
    keys = [n.removeprefix("missing:").split("=", 1)[0] for n in names]
    order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    return np.array([order[k] for k in keys], dtype=np.int64)


_GROUP_COLUMNS = 8


def _column_groups(width: int) -> list[slice]:
    """Consecutive column groups of about ``_GROUP_COLUMNS``, none of a single column unless the block has one
    (a one-column reduction sums pairwise, a wider one row by row: the grouping must not change the sums)."""
    edges = np.linspace(0, width, max(1, width // _GROUP_COLUMNS) + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


@dataclass
class Preprocessor:
    stats: dict[str, BlockStats] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    log_skewed: bool = False

    def output_names(self, modality: str) -> list[str]:
        """Names of the transformed columns: the block's columns, then its missing indicators."""
        cols = self.columns[modality]
        return cols + [f"missing:{c}" for c, flag in zip(cols, self.stats[modality].indicate, strict=True) if flag]

    def fit(self, data: ModalityData) -> Preprocessor:
        self.stats = {}
        self.columns = {m: list(data.names[m]) for m in data.modalities}
        for m in data.modalities:
            block, rows = data.blocks[m], data.present[m]
            kind = data.kinds.get(m, "tabular")
            selected = np.flatnonzero(rows) if rows.any() else slice(None)
            # A few columns at a time: float64 copies of a million-row block would take gigabytes. Every
            # statistic is per column, and groups of two or more columns reduce in the same order as the whole
            # block, so the numbers do not depend on the grouping.
            parts = [self._column_stats(block[selected, cols].astype(np.float64), kind)
                     for cols in _column_groups(block.shape[1])]
            median, mean, std, indicate, log = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
                                                for i in range(5))
            self.stats[m] = BlockStats(median, mean, np.where(std > 1e-9, std, 1.0), indicate.astype(bool), kind,
                                       log.astype(bool), partial=not bool(rows.all()))
        return self

    def _column_stats(self, xs: np.ndarray, kind: str) -> tuple[np.ndarray, ...]:
        width = xs.shape[1]
        log = skewed_columns(xs) if self.log_skewed and kind == "tabular" else np.zeros(width, bool)
        xs = log1p_columns(xs, log)
        median = np.nan_to_num(np.nanmedian(xs, axis=0)) if len(xs) else np.zeros(width)
        filled = np.where(np.isnan(xs), median, xs)
        mean, std = filled.mean(axis=0), filled.std(axis=0)
        indicate = np.isnan(xs).any(axis=0) if kind == "tabular" else np.zeros(width, bool)
        return median, mean, std, indicate, log

    def transform(self, data: ModalityData) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Dense float32 blocks (no NaN) and the per-row presence mask of each modality."""
        blocks, masks = {}, {}
        for m, st in self.stats.items():
            if m not in data.blocks:
                raise InvalidInputError(f"the {m} modality the model was fitted on is missing from this data "
                                        f"(it has {data.modalities})")
            if list(data.names[m]) != self.columns[m]:
                theirs = list(data.names[m])
                lacking = [c for c in self.columns[m] if c not in theirs]
                extra = [c for c in theirs if c not in self.columns[m]]
                raise InvalidInputError(
                    f"the {m} columns differ from those seen in fit: missing {lacking[:10]}, unexpected {extra[:10]}"
                    + ("" if lacking or extra else " (same columns in another order)"))
            present = data.present[m].copy()
            block = data.blocks[m]
            out = np.empty((len(block), len(st.mean) + int(st.indicate.sum()) if st.kind == "tabular"
                            else len(st.mean)), np.float32)
            # In row chunks: the float64 temporaries of a million-row embedding block would take gigabytes.
            for start in range(0, len(block), CHUNK_ROWS):
                rows = slice(start, start + CHUNK_ROWS)
                x = log1p_columns(block[rows].astype(np.float64), st.log)
                nan = np.isnan(x)
                z = (np.where(nan, st.median, x) - st.mean) / st.std
                if st.kind == "tabular" and st.indicate.any():
                    z = np.concatenate([z, nan[:, st.indicate].astype(np.float64)], axis=1)
                z[~present[rows]] = 0.0
                out[rows] = z
            blocks[m] = out
            masks[m] = present
        return blocks, masks

    def dims(self) -> dict[str, int]:
        return {m: len(st.mean) + int(st.indicate.sum()) for m, st in self.stats.items()}

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"pre_order": np.array(list(self.stats))}  # block order matters to the models
        for m, st in self.stats.items():
            for key in ("median", "mean", "std", "indicate"):
                out[f"pre.{m}.{key}"] = np.asarray(getattr(st, key))
            out[f"pre.{m}.log"] = st.log if st.log is not None else np.zeros(len(st.mean), bool)
            out[f"pre.{m}.kind"] = np.array(st.kind)
            out[f"pre.{m}.columns"] = np.array(self.columns[m])
            if st.partial is not None:
                out[f"pre.{m}.partial"] = np.array(st.partial)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Preprocessor:
        mods = arrays["pre_order"].tolist()
        stats = {m: BlockStats(arrays[f"pre.{m}.median"], arrays[f"pre.{m}.mean"], arrays[f"pre.{m}.std"],
                               arrays[f"pre.{m}.indicate"].astype(bool), str(arrays[f"pre.{m}.kind"]),
                               arrays[f"pre.{m}.log"].astype(bool) if f"pre.{m}.log" in arrays else None,
                               bool(arrays[f"pre.{m}.partial"]) if f"pre.{m}.partial" in arrays else None)
                 for m in mods}  # models saved before log_skewed / partial existed lack those arrays
        columns = {m: arrays[f"pre.{m}.columns"].tolist() for m in mods}
        return cls(stats, columns)
