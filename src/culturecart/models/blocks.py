"""Feature blocks that are read, not copied: a :class:`RowBlock` is a table and, per row, the table row it shows.

Two things made features the study's largest memory cost on millions of events, and both are lookups:

* text and image embeddings belong to an item, yet every event of the item carried its own copy (96 of a
  twin event's 157 feature columns);
* every subset of rows (train, valid, test, one country) copied all of its blocks before a model read them
  once to build its own matrix.

A ``RowBlock`` stores the item table once with an event -> item index, and a subset of its rows is a
subset of the index. Reading it (``np.asarray``, arithmetic, ``block[:, j]``) gathers the rows then, so it serves where a
float32 array did; readers of whole blocks (the LightGBM matrix, the preprocessor) gather in row chunks with
:func:`copy_rows` and never hold a second full-size copy. Values are bit-identical to the gathered array.

Example:
    >>> import numpy as np
    >>> items = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    >>> block = RowBlock(items, np.array([1, 0, 1]))
    >>> block.shape, block[1:].index.tolist(), np.asarray(block[[0]]).tolist()
    ((3, 2), [0, 1], [[3.0, 4.0]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

CHUNK_ROWS = 65_536  # rows gathered at a time by chunked readers (a few MB per block)


class RowBlock(NDArrayOperatorsMixin):
    """A 2-D block whose row ``i`` is ``table[index[i]]``; selecting rows selects from ``index`` only."""

    __slots__ = ("table", "index")

    def __init__(self, table: np.ndarray, index: np.ndarray) -> None:
        index = np.asarray(index)
        if table.ndim != 2 or index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ValueError("a RowBlock needs a 2-D table and a 1-D integer row index")
        self.table, self.index = table, index

    @classmethod
    def of(cls, block: np.ndarray | RowBlock, rows: Any) -> RowBlock:
        """The ``rows`` (positions, a boolean mask or a slice) of ``block``, without copying its values."""
        if isinstance(block, RowBlock):
            return block[rows]
        return cls(block, np.arange(len(block))[rows])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), self.table.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype

    ndim = 2

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the gathered array (what reading it costs), not of the table."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):  # rows and columns: the columns are taken from the table before gathering
            rows, *rest = key
            return np.take(self.table[(slice(None), *rest)], self.index[rows], axis=0)
        if isinstance(key, (int, np.integer)):
            return self.table[self.index[key]]
        return RowBlock(self.table, self.index[key])

    def compact(self) -> RowBlock:
        """The same rows over a table of only the rows they use (to send a small subset to another process)."""
        used, index = np.unique(self.index, return_inverse=True)
        return RowBlock(self.table[used], index.ravel())

    def gather(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The values of ``rows`` as a new array."""
        return np.take(self.table, self.index[rows], axis=0)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self.gather()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(np.asarray(x) if isinstance(x, RowBlock) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        return self.gather().astype(dtype, copy=False)

    def copy(self) -> np.ndarray:
        return self.gather()

    def tolist(self) -> list:
        return self.gather().tolist()

    def __repr__(self) -> str:
        return f"RowBlock(shape={self.shape}, table={self.table.shape[0]} rows, dtype={self.dtype})"


def copy_rows(block: np.ndarray | RowBlock, out: np.ndarray, chunk: int = CHUNK_ROWS) -> None:
    """``out[:] = block`` in row chunks, so a RowBlock is never gathered whole into a temporary."""
    if not isinstance(block, RowBlock):
        out[...] = block
        return
    for start in range(0, len(block), chunk):
        out[start:start + chunk] = block.gather(slice(start, start + chunk))
