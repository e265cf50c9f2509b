"""Nearest neighbours by inner product on L2-normalised vectors (cosine similarity).

Dense vectors go through faiss: exact ``IndexFlatIP`` up to ``exact_max`` rows, HNSW above it. Sparse
matrices (TF-IDF) are multiplied in row chunks. Both return ``(similarities, indices)`` of shape
(n, k), best first, with ``k = min(k, n)``; the row itself is among its own neighbours.

Example:
    >>> import numpy as np
    >>> x = l2_normalize(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32))
    >>> sims, idx = knn(x, k=2)
    >>> idx[:, 0].tolist(), int(idx[0, 1])
    ([0, 1, 2], 1)
"""

from __future__ import annotations

import faiss
import numpy as np
import scipy.sparse as sp

EXACT_MAX = 200_000


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def knn(x, k: int = 51, exact_max: int = EXACT_MAX, threads: int = 2, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` neighbours of every row among all rows (inner product; normalise first for cosine)."""
    n = x.shape[0]
    k = min(k, n)
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float32)
        sims, idx = np.empty((n, k), np.float32), np.empty((n, k), np.int64)
        xt = x.T.tocsc()
        for start in range(0, n, chunk):
            block = (x[start:start + chunk] @ xt).toarray()
            top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(block), 1))
            vals = np.take_along_axis(block, top, axis=1)
            order = np.lexsort((top, -vals), axis=1)
            idx[start:start + chunk] = np.take_along_axis(top, order, axis=1)
            sims[start:start + chunk] = np.take_along_axis(vals, order, axis=1)
        return sims, idx
    x = np.ascontiguousarray(x, dtype=np.float32)
    faiss.omp_set_num_threads(threads)
    if n <= exact_max:
        index = faiss.IndexFlatIP(x.shape[1])
    else:
        index = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = max(128, 2 * k)
    index.add(x)
    sims, idx = index.search(x, k)
    return sims, idx.astype(np.int64)


def hamming_knn(hashes: np.ndarray, k: int = 51, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours by Hamming distance of 64-bit hashes (uint64), as similarity = 1 - distance / 64."""
    h = np.asarray(hashes, np.uint64)
    n = len(h)
    k = min(k, n)
    bits = np.unpackbits(h.view(np.uint8).reshape(n, 8), axis=1).astype(np.float32)  # n x 64
    signed = 2.0 * bits - 1.0
    sims, idx = np.empty((n, k), np.float32), np.empty((n, k), np.int64)
    for start in range(0, n, chunk):
        agree = signed[start:start + chunk] @ signed.T  # 64 - 2 * hamming
        top = np.argpartition(-agree, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(agree), 1))
        vals = np.take_along_axis(agree, top, axis=1)
        order = np.lexsort((top, -vals), axis=1)
        idx[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        sims[start:start + chunk] = (np.take_along_axis(vals, order, axis=1) + 64.0) / 128.0
    return sims, idx
