"""Batched, cached encoding with an explicit mask for missing or unreadable inputs.

Missing inputs (None, NaN, empty or blank text, empty image path) are never encoded as a zero
vector: their rows are NaN and ``mask`` is False. Texts longer than ``max_chars`` characters
(default 2000) are truncated before encoding, which also bounds the encoders' cost. Unreadable
image files raise :class:`~culturecart.encoders.base.ImageReadError` naming the file, or, with
``on_error="mask"``, are masked and listed in ``Embeddings.errors``.

Example:
    >>> emb = encode(["red shirt", None, "  "], "char-hash", cache=False)
    >>> emb.mask.tolist(), emb.vectors.shape
    ([True, False, False], (3, 256))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from culturecart.data.image_file import ImageFileError, read_image_bytes
from culturecart.encoders.base import Encoder, ImageReadError
from culturecart.encoders.cache import EmbeddingCache, content_key, default_cache_dir
from culturecart.encoders.registry import shared_encoder
from culturecart.progress import STDERR

MAX_CHARS = 2000


@dataclass
class Embeddings:
    """Vectors (float32, NaN rows where ``mask`` is False), the mask, and why rows are missing."""

    vectors: np.ndarray
    mask: np.ndarray
    encoder: str
    errors: dict[int, str] = field(default_factory=dict)
    n_encoded: int = 0  # rows computed by the encoder in this call (the rest came from the cache)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _prepare(encoder: Encoder, value: object, max_chars: int) -> tuple[object, bytes | None, str | None]:
    """(encoder input, content key, error) for one present input."""
    if encoder.modality == "text":
        text = str(value)[:max_chars]
        return text, content_key(text), None
    path = Path(str(value))
    try:
        data = read_image_bytes(path)  # the one way in for image files: regular, bounded (not /dev/zero, not a pipe)
    except ImageFileError as exc:
        return path, None, str(exc)
    return path, content_key(data), None


def encode(
    inputs: Sequence[object],
    encoder: str | Encoder = "use-m3",
    *,
    cache: EmbeddingCache | str | Path | bool | None = None,
    batch_size: int = 64,
    on_error: str = "raise",
    max_chars: int = MAX_CHARS,
    progress: bool | None = None,
    out: str | Path | None = None,
) -> Embeddings:
    """Encode texts or image paths in batches, through the content-hash cache.

    ``cache``: None or True = the default cache folder, a path = that folder, False = no cache.
    ``out``: write vectors to this ``.npy`` file as a memory map (bounded memory for millions of rows).
    ``progress``: show a progress bar (default: when there are more than 8 batches).
    """
    if on_error not in ("raise", "mask"):
        raise ValueError(f"on_error must be 'raise' or 'mask', not {on_error!r}")
    enc = shared_encoder(encoder) if isinstance(encoder, str) else encoder  # built once per process
    store = _cache_for(enc, cache)
    n = len(inputs)
    if out is not None:
        vectors = np.lib.format.open_memmap(Path(out), mode="w+", dtype=np.float32, shape=(n, enc.dim))
        vectors[:] = np.nan
    else:
        vectors = np.full((n, enc.dim), np.nan, dtype=np.float32)
    mask = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    encoded = 0
    show = progress if progress is not None else n > 8 * batch_size
    with _progress(show, enc.name, n) as (bar, task):
        for start in range(0, n, batch_size):
            rows = range(start, min(start + batch_size, n))
            encoded += _encode_batch(enc, store, inputs, rows, vectors, mask, errors, on_error, max_chars)
            if bar is not None:
                bar.update(task, advance=len(rows))
    if encoded:
        enc.release_memory()
    if isinstance(vectors, np.memmap):
        vectors.flush()
    return Embeddings(vectors=vectors, mask=mask, encoder=enc.cache_key(), errors=errors, n_encoded=encoded)


def _encode_batch(enc, store, inputs, rows, vectors, mask, errors, on_error, max_chars) -> int:
    todo: dict[bytes, list[int]] = {}
    payload: dict[bytes, object] = {}
    for i in rows:
        value = inputs[i]
        if _is_missing(value):
            continue
        item, key, error = _prepare(enc, value, max_chars)
        if error is not None:
            _fail(i, error, errors, on_error)
            continue
        todo.setdefault(key, []).append(i)
        payload[key] = item
    keys = list(todo)
    if store is not None and keys:
        found, cached = store.get(keys)
        for key, vec in zip([k for k, f in zip(keys, found, strict=True) if f], cached, strict=True):
            vectors[todo[key]] = vec
            mask[todo[key]] = True
        keys = [k for k, f in zip(keys, found, strict=True) if not f]
    if not keys:
        return 0
    good_keys, new = _run(enc, keys, payload, todo, errors, on_error)
    for key, vec in zip(good_keys, new, strict=True):
        vectors[todo[key]] = vec
        mask[todo[key]] = True
    if store is not None and good_keys:
        store.put(good_keys, new)
    return len(good_keys)


def _run(enc, keys, payload, todo, errors, on_error) -> tuple[list[bytes], np.ndarray]:
    try:
        return keys, enc.encode([payload[k] for k in keys])
    except ImageReadError:
        if len(keys) == 1:
            raise
    # One bad file in the batch: encode one by one to find it (and keep the good ones).
    good, parts = [], []
    for key in keys:
        try:
            parts.append(enc.encode([payload[key]]))
            good.append(key)
        except ImageReadError as exc:
            for i in todo[key]:
                _fail(i, str(exc), errors, on_error)
    return good, (np.concatenate(parts) if parts else np.zeros((0, enc.dim), np.float32))


def _fail(row: int, message: str, errors: dict[int, str], on_error: str) -> None:
    if on_error == "raise":
        raise ImageReadError(f"row {row}: {message}")
    errors[row] = message


def _cache_for(enc: Encoder, cache: EmbeddingCache | str | Path | bool | None) -> EmbeddingCache | None:
    if cache is False:
        return None
    if isinstance(cache, EmbeddingCache):
        return cache
    root = default_cache_dir() if cache in (None, True) else Path(cache)
    return EmbeddingCache(root, enc.cache_key(), dim=enc.dim)


class _progress:
    def __init__(self, show: bool, name: str, total: int) -> None:
        self.bar = Progress(TextColumn(escape(f"encode [{name}]")), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=STDERR, transient=True) if show else None
        self.total = total

    def __enter__(self):
        if self.bar is None:
            return None, None
        self.bar.start()
        return self.bar, self.bar.add_task("encode", total=self.total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
