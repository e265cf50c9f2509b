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
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np

from culturecart.atomic import atomic_path
from culturecart.errors import UsageError


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
    """Content-addressed store of embedding vectors for one encoder.

    A cache that cannot be used is repaired or refused, never a crash: damaged shards (unreadable, truncated, a
    folder where a file belongs, vectors of another width than ``dim``) are removed and their entries encoded again,
    with one warning; a cache folder that cannot be written is read as it is and the run encodes without storing,
    with one warning; a cache path that is a file is refused (naming ``CULTURECART_CACHE``).
    """

    def __init__(self, root: str | Path, encoder_key: str, dim: int | None = None) -> None:
        root = Path(root)
        for folder in (root, root / "embeddings"):
            if folder.exists() and not folder.is_dir():
                raise UsageError(f"the embedding cache {root} (CULTURECART_CACHE, or the encoders' cache_dir) holds a "
                                 f"file where a folder belongs ({folder}): point it at a folder, or remove that file")
        self.dir = root / "embeddings" / encoder_key
        self.dim = dim
        self._index: dict[bytes, tuple[str, int]] | None = None
        self._vectors: dict[str, np.ndarray] = {}
        self._writable = True

    def _load_index(self) -> dict[bytes, tuple[str, int]]:
        if self._index is None:
            self._index = {}
            damaged: list[str] = []
            if self.dir.is_dir():
                try:
                    shards = sorted(self.dir.glob("*.keys.npy"))
                except OSError as err:  # an unreadable cache folder: nothing cached
                    self._warn_unusable(err)
                    shards = []
                for keys_file in shards:
                    shard = keys_file.name[: -len(".keys.npy")]
                    keys = self._checked_keys(shard, damaged)
                    for row, key in enumerate(keys):
                        self._index[key.tobytes()] = (shard, row)
            if damaged:
                shown = "; ".join(damaged[:3]) + (f" (+{len(damaged) - 3} more)" if len(damaged) > 3 else "")
                warnings.warn(f"{len(damaged)} embedding cache shard(s) under {self.dir} were damaged and are removed; "
                              f"their entries will be encoded again: {shown}", RuntimeWarning, stacklevel=3)
        return self._index

    def _checked_keys(self, shard: str, damaged: list[str]) -> np.ndarray:
        """The shard's keys, (n, 20) uint8; a damaged shard is removed (noted in ``damaged``) and re-encoded."""
        try:
            keys = np.load(self.dir / f"{shard}.keys.npy", allow_pickle=False)
            vectors = np.load(self.dir / f"{shard}.vec.npy", mmap_mode="r", allow_pickle=False)
            if keys.ndim != 2 or keys.shape[1] != 20 or keys.dtype != np.uint8 or vectors.ndim != 2 \
                    or len(vectors) != len(keys):
                raise ValueError(f"keys {keys.shape} and vectors {vectors.shape} do not match")
            if self.dim is not None and vectors.shape[1] != self.dim:
                raise ValueError(f"vectors of width {vectors.shape[1]}, not this encoder's {self.dim}")
            return keys  # fixed-width bytes keep trailing NULs
        except (OSError, ValueError, EOFError) as err:
            damaged.append(f"{shard} ({type(err).__name__}: {err})")
            for suffix in (".keys.npy", ".vec.npy"):
                path = self.dir / f"{shard}{suffix}"
                try:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink(missing_ok=True)
                except OSError:  # a read-only cache: the shard stays, unused
                    pass
            return np.zeros((0, 20), np.uint8)

    def _warn_unusable(self, err: OSError) -> None:
        if self._writable:
            self._writable = False
            warnings.warn(f"the embedding cache {self.dir} cannot be written ({err.strerror or err}); this run encodes "
                          "without storing (set CULTURECART_CACHE to a writable folder to keep embeddings)",
                          RuntimeWarning, stacklevel=4)

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
        """Store vectors under their keys as one new shard (not at all, with one warning, where the cache cannot be
        written)."""
        if not keys or not self._writable:
            return
        shard = uuid.uuid4().hex
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.dir / f"{shard}.vec.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32))
            with atomic_path(self.dir / f"{shard}.keys.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 20))
        except OSError as err:  # read-only or full: the run goes on, its embeddings are not kept
            self._warn_unusable(err)
            return
        index = self._load_index()
        for row, key in enumerate(keys):
            index[key] = (shard, row)
