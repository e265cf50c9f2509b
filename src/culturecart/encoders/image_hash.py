"""No-model image fallback: perceptual hash + colour histogram + small grey thumbnail.

* 64-bit DCT perceptual hash (``imagehash.phash``) as +-1 values: robust to rescaling and mild edits;
* a 4x4x4 RGB colour histogram (normalised): the product's colours;
* an 8x8 grey thumbnail, mean-centred: coarse layout.
Each block is L2-normalised and weighted so that none dominates; the whole vector is L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from culturecart.encoders.base import Encoder, l2_normalise
from culturecart.encoders.image_io import load_rgb

BLOCK_WEIGHTS = (1.0, 1.0, 0.7)


def _block(x: np.ndarray, weight: float) -> np.ndarray:
    return weight * x / max(float(np.linalg.norm(x)), 1e-12)


def hash_features(img: Image.Image) -> np.ndarray:
    """The fallback feature vector of one RGB image (length 64 + 64 + 64)."""
    bits = imagehash.phash(img).hash.astype(np.float32).ravel() * 2.0 - 1.0
    small = np.asarray(img.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.int64) // 64
    codes = small[..., 0] * 16 + small[..., 1] * 4 + small[..., 2]
    hist = np.bincount(codes.ravel(), minlength=64).astype(np.float32)
    thumb = np.asarray(img.convert("L").resize((8, 8), Image.Resampling.BILINEAR), dtype=np.float32).ravel()
    thumb -= thumb.mean()
    w_hash, w_hist, w_thumb = BLOCK_WEIGHTS
    return np.concatenate([_block(bits, w_hash), _block(np.sqrt(hist), w_hist), _block(thumb, w_thumb)])


class ImageHashEncoder(Encoder):
    """The image fallback: always available, no weights."""

    name = "image-hash"
    version = "1"
    modality = "image"
    dim = 192

    def encode(self, batch: Sequence[Path]) -> np.ndarray:
        return l2_normalise(np.stack([hash_features(load_rgb(p)) for p in batch]).astype(np.float32))
