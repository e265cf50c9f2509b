"""No-model text fallback: character n-gram hashing with a fixed random projection.

Script-agnostic (works the same for Hangul, kana, Latin, emoji): each text becomes TF-weighted
counts of its character 2-4-grams hashed into 2**18 buckets (scikit-learn's HashingVectorizer,
``char_wb``), then a seeded Gaussian random projection to ``dim`` dimensions, which keeps cosines
approximately (Johnson-Lindenstrauss), and an L2 normalisation. Stateless: nothing to fit, the same
text always gives the same vector. It matches surface forms only, so it cannot align translations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.random_projection import SparseRandomProjection

from culturecart.encoders.base import Encoder, l2_normalise

N_FEATURES = 2**18


class CharHashEncoder(Encoder):
    """Character n-gram hashing + random projection (the text fallback)."""

    name = "char-hash"
    modality = "text"

    def __init__(self, dim: int = 256, ngram_range: tuple[int, int] = (2, 4), seed: int = 0) -> None:
        self.dim = dim
        self.version = f"1-{dim}-{ngram_range[0]}{ngram_range[1]}-{seed}"
        self._vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=tuple(ngram_range),
                                             n_features=N_FEATURES, alternate_sign=False, norm="l2", dtype=np.float32,
                                             lowercase=True)
        self._projection = SparseRandomProjection(n_components=dim, dense_output=True, random_state=seed)
        self._projection.fit(np.zeros((1, N_FEATURES), dtype=np.float32))

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        counts = self._vectorizer.transform(list(batch))
        return l2_normalise(self._projection.transform(counts).astype(np.float32))
