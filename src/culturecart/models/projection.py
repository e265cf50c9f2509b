"""A fitted linear projection of embedding vectors (PCA basis and mean), or the identity.

Example:
    >>> import numpy as np
    >>> p = Projection.fit(np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32), 3, "enc-v1")
    >>> p.dim, p.components.shape
    (3, (3, 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from culturecart.encoders.encode import Embeddings


@dataclass
class Projection:
    """A fitted linear projection of embedding vectors (PCA basis and mean), or the identity."""

    dim: int
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    encoder: str = ""

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int | None, encoder: str, seed: int = 0) -> Projection:
        from sklearn.decomposition import PCA

        if dim is None or dim >= vectors.shape[1] or len(vectors) <= dim:
            return cls(vectors.shape[1], encoder=encoder)
        pca = PCA(n_components=dim, random_state=seed).fit(vectors)
        return cls(dim, pca.mean_, pca.components_, encoder)

    def apply(self, emb: Embeddings) -> Embeddings:
        if self.components is None:
            return emb
        # The same arithmetic as scikit-learn's PCA.transform, so study figures stay as they were.
        present = emb.vectors[emb.mask]
        out = np.full((len(emb.mask), len(self.components)), np.nan, np.float32)
        projected = present @ self.components.T
        projected -= np.reshape(self.mean, (1, -1)) @ self.components.T
        out[emb.mask] = projected.astype(np.float32)
        return Embeddings(vectors=out, mask=emb.mask, encoder=f"{emb.encoder}+pca{len(self.components)}",
                          errors=emb.errors)
