"""On-disk embedding cache keyed by content hash, one folder per encoder name + version.

Entries are stored in shards: ``<id>.vec.npy`` (vectors) then ``<id>.keys.npy`` (the 20-byte SHA-1
keys). Each file is written atomically and the keys file is written last, so a shard only counts
once both are complete: killing a run at any point leaves no corrupt entry, only (at worst) an
orphan vectors file that is ignored. Vectors are memory-mapped on read.

Example:
    >>> import tempfile, numpy as np
    >>> cache = EmbeddingCache(tempfile.mkdtemp(), "demo-v1")
    >>> cache.put([content_key("a")], np.ones((1, 3), np.float32))
    >>> found, vectors = cache.get([content_key("a"), content_key("b")])
    >>> found.tolist(), vectors.shape
    ([True, False], (1, 3))
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from pathlib import Path

import numpy as np

from culturecart.atomic import atomic_path


def default_cache_dir() -> Path:
    """``$CULTURECART_CACHE``, else ``~/.cache/culturecart``."""
    env = os.environ.get("CULTURECART_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "culturecart"


def content_key(content: str | bytes) -> bytes:
    """20-byte SHA-1 of a text (UTF-8) or of raw bytes (an image file's content)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha1(data).digest()


def file_content_key(path: Path) -> bytes:
    """:func:`content_key` of a file's bytes, read in blocks (equal to ``content_key(path.read_bytes())``)."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


class EmbeddingCache:
    """Content-addressed store of embedding vectors for one encoder."""

    def __init__(self, root: str | Path, encoder_key: str) -> None:
        self.dir = Path(root) / "embeddings" / encoder_key
        self._index: dict[bytes, tuple[str, int]] | None = None
        self._vectors: dict[str, np.ndarray] = {}

    def _load_index(self) -> dict[bytes, tuple[str, int]]:
        if self._index is None:
            self._index = {}
            if self.dir.exists():
                for keys_file in sorted(self.dir.glob("*.keys.npy")):
                    shard = keys_file.name[: -len(".keys.npy")]
                    keys = self._checked_keys(shard)
                    for row, key in enumerate(keys):
                        self._index[key.tobytes()] = (shard, row)
        return self._index

    def _checked_keys(self, shard: str) -> np.ndarray:
        """The shard's keys, (n, 20) uint8; a damaged shard is removed (with a warning) and its rows re-encoded."""
        try:
            keys = np.load(self.dir / f"{shard}.keys.npy", allow_pickle=False)
            vectors = np.load(self.dir / f"{shard}.vec.npy", mmap_mode="r", allow_pickle=False)
            if keys.ndim != 2 or keys.shape[1] != 20 or keys.dtype != np.uint8 or vectors.ndim != 2 \
                    or len(vectors) != len(keys):
                raise ValueError(f"keys {keys.shape} and vectors {vectors.shape} do not match")
            return keys  # fixed-width bytes keep trailing NULs
        except (OSError, ValueError, EOFError) as err:
            warnings.warn(f"embedding cache shard {self.dir / shard} is damaged ({type(err).__name__}: {err}); "
                          "removed, its entries will be encoded again", RuntimeWarning, stacklevel=3)
            for suffix in (".keys.npy", ".vec.npy"):
                (self.dir / f"{shard}{suffix}").unlink(missing_ok=True)
            return np.zeros((0, 20), np.uint8)

    def __len__(self) -> int:
        return len(self._load_index())

    def _shard(self, shard: str) -> np.ndarray:
        if shard not in self._vectors:
            self._vectors[shard] = np.load(self.dir / f"{shard}.vec.npy", mmap_mode="r")
        return self._vectors[shard]

    def get(self, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors of the found keys in order)."""
        index = self._load_index()
        found = np.array([k in index for k in keys], dtype=bool)
        rows = [self._shard(index[k][0])[index[k][1]] for k, f in zip(keys, found, strict=True) if f]
        vectors = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
        return found, vectors

    def put(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Store vectors under their keys as one new shard."""
        if not keys:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        shard = uuid.uuid4().hex
        with atomic_path(self.dir / f"{shard}.vec.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32))
        with atomic_path(self.dir / f"{shard}.keys.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 20))
        index = self._load_index()
        for row, key in enumerate(keys):
            index[key] = (shard, row)
