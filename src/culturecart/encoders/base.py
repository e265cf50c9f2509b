"""The encoder contract: one small interface for text and image encoders."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from culturecart.errors import InvalidInputError

Modality = str  # "text" or "image"


class EncoderUnavailable(RuntimeError):
    """Raised by an encoder's constructor when its package or weights are not installed."""


class ImageReadError(InvalidInputError):
    """An image file is missing, unreadable, truncated or too large; the message names the file."""


class Encoder(ABC):
    """Maps a batch of inputs to an ``(n, dim)`` float32 array.

    Text encoders take strings; image encoders take file paths. Inputs are never missing here: the
    batching layer (:func:`culturecart.encoders.encode`) masks missing entries before calling.
    ``version`` is part of every cache key, so changing weights or preprocessing invalidates the cache.
    """

    name: str = ""
    version: str = "1"
    modality: Modality = "text"
    dim: int = 0

    @abstractmethod
    def encode(self, batch: Sequence[str] | Sequence[Path]) -> np.ndarray:
        """Encode a batch; returns float32 of shape ``(len(batch), self.dim)``."""

    def release_memory(self) -> None:
        """Give back working memory the encoder's runtime keeps between calls (its weights stay loaded).

        :func:`culturecart.encoders.encode` calls it after encoding, so a process that keeps the encoder
        (a worker) does not hold the largest batch's buffers for the rest of its life. Nothing by default.
        """
        return None  # encoders whose runtime keeps no buffers between calls

    def cache_key(self) -> str:
        """Identifies the encoder and its version in cache paths."""
        return f"{self.name}-v{self.version}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, version={self.version!r})"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (rows of zeros stay zero)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)
