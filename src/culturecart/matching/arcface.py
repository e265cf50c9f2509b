"""An ArcFace projection head (Deng et al. 2019, CVPR) trained on label groups.

The head maps a listing's title to a ``dim``-d unit vector from two inputs: a dense embedding (the frozen
pretrained encoder) through a linear layer, and optionally a sparse TF-IDF row (character and word
n-grams of the training titles, :class:`TitleVocabulary`) through a learned n-gram embedding table
(``EmbeddingBag`` weighted by the TF-IDF values, fastText style). Training adds an additive angular
margin ``m`` to the angle between each vector and its group's class centre (logits ``s * cos(theta + m)``
for the true class), with ``m`` rising linearly from ``margin_start`` to ``margin_end`` over the epochs
(a margin schedule, as in the Shopee solutions). Only the head is saved (safetensors); class centres
are discarded.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(size=(20, 16)); labels = np.repeat(np.arange(20), 3)
    >>> x = (centres[labels] + 0.3 * rng.normal(size=(60, 16))).astype(np.float32)
    >>> head = ArcFaceHead(dim=8, epochs=30).fit(x, labels)
    >>> head.transform(x).shape
    (60, 8)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from safetensors.torch import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import nn
from torch.nn import functional as F  # noqa: N812

from culturecart.atomic import atomic_path, atomic_write_text
from culturecart.matching.config import MatchingConfig
from culturecart.parallel import torch_threads
from culturecart.persist import Files


class TitleVocabulary:
    """Character 2-4-gram and word TF-IDF of titles, vocabulary and idf learned from the training titles.

    N-grams seen in fewer than ``min_df`` training titles are dropped (they cannot be learned); unseen
    n-grams at prediction time are ignored. Saved as JSON (vocabulary and idf), never pickled.

    Example:
        >>> v = TitleVocabulary(min_df=1).fit(["red shoe", "red shoes", "kaos polos"])
        >>> v.transform(["red shoe"]).shape[0], v.size > 10
        (1, True)
    """

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df

    def _vectorizers(self) -> list[TfidfVectorizer]:
        common = {"sublinear_tf": True, "min_df": self.min_df, "dtype": np.float32}
        return [TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), **common),
                TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", **common)]

    def fit(self, titles: list[str]) -> TitleVocabulary:
        self.parts_ = []
        for vec in self._vectorizers():
            try:
                vec.fit(titles)
            except ValueError:  # no n-gram reaches min_df (tiny training files): this part stays empty
                vec = None
            self.parts_.append(vec)
        return self

    @property
    def size(self) -> int:
        return sum(len(v.vocabulary_) for v in self.parts_ if v is not None)

    def transform(self, titles: list[str]) -> sp.csr_matrix:
        blocks = [v.transform(titles) for v in self.parts_ if v is not None]
        if not blocks:
            return sp.csr_matrix((len(titles), 0), dtype=np.float32)
        return sp.csr_matrix(sp.hstack(blocks), dtype=np.float32)

    def save(self, path: str | Path) -> None:
        parts = [None if v is None else {"vocabulary": {t: int(i) for t, i in v.vocabulary_.items()},
                                         "idf": v.idf_.tolist()} for v in self.parts_]
        atomic_write_text(Path(path), json.dumps({"min_df": self.min_df, "parts": parts}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> TitleVocabulary:
        info = json.loads(Path(path).read_text("utf-8"))
        vocab = cls(min_df=info["min_df"])
        vocab.parts_ = []
        for vec, part in zip(vocab._vectorizers(), info["parts"], strict=True):
            if part is not None:
                vec.vocabulary_ = part["vocabulary"]
                vec.idf_ = np.asarray(part["idf"], np.float32)
                vec.build_analyzer()  # now, not on the first transform (sklearn sets state lazily there)
            vocab.parts_.append(None if part is None else vec)
        return vocab


class _Head(nn.Module):
    def __init__(self, in_dim: int, n_grams: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, dim))
        self.grams = nn.EmbeddingBag(n_grams, dim, mode="sum", sparse=True) if n_grams else None
        if self.grams is not None:
            nn.init.normal_(self.grams.weight, std=0.05)
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor, grams: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        z = self.dense(x)
        if self.grams is not None and grams is not None:
            z = z + self.grams(*grams[:2], per_sample_weights=grams[2])
        return F.normalize(self.norm(z), dim=1)


def _bags(rows: sp.csr_matrix | None) -> tuple[torch.Tensor, ...] | None:
    """EmbeddingBag inputs (indices, offsets, weights) of CSR rows."""
    if rows is None:
        return None
    return (torch.from_numpy(rows.indices.astype(np.int64)), torch.from_numpy(rows.indptr[:-1].astype(np.int64)),
            torch.from_numpy(rows.data.astype(np.float32)))


@dataclass
class ArcFaceHead:
    dim: int = 256
    epochs: int = 8
    batch_size: int = 512
    lr: float = 3e-3
    scale: float = 30.0
    margin_start: float = 0.2
    margin_end: float = 0.5
    dropout: float = 0.2
    seed: int = 0
    threads: int = 1  # fixed: the head must not depend on the core count (0 = this process's budget)

    def fit(self, x: np.ndarray, labels: np.ndarray, grams: sp.csr_matrix | None = None) -> ArcFaceHead:
        """Train on dense inputs ``x`` and, optionally, sparse n-gram rows ``grams`` (same rows)."""
        with torch_threads(self.threads):
            return self._fit(x, labels, grams)

    def _fit(self, x: np.ndarray, labels: np.ndarray, grams: sp.csr_matrix | None) -> ArcFaceHead:
        torch.manual_seed(self.seed)
        codes = np.unique(np.asarray(labels), return_inverse=True)[1]
        n_classes = int(codes.max()) + 1
        xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(codes.astype(np.int64))
        grams = None if grams is None or grams.shape[1] == 0 else sp.csr_matrix(grams, dtype=np.float32)
        self.in_dim_, self.n_grams_ = xt.shape[1], 0 if grams is None else grams.shape[1]
        self.head_ = _Head(self.in_dim_, self.n_grams_, self.dim, self.dropout)
        centres = nn.Parameter(torch.randn(n_classes, self.dim) * 0.01)
        dense_params = [p for n, p in self.head_.named_parameters() if not n.startswith("grams.")]
        optimisers = [torch.optim.AdamW([*dense_params, centres], lr=self.lr, weight_decay=1e-4)]
        if self.head_.grams is not None:
            optimisers.append(torch.optim.SparseAdam(list(self.head_.grams.parameters()), lr=self.lr))
        gen = torch.Generator().manual_seed(self.seed)
        for epoch in range(self.epochs):
            margin = self.margin_start + (self.margin_end - self.margin_start) * epoch / max(1, self.epochs - 1)
            cos_m, sin_m = math.cos(margin), math.sin(margin)
            self.head_.train()
            for batch in torch.randperm(len(yt), generator=gen).split(self.batch_size):
                if len(batch) < 2:
                    continue
                z = self.head_(xt[batch], _bags(None if grams is None else grams[batch.numpy()]))
                cos = z @ F.normalize(centres, dim=1).T
                sin = torch.sqrt((1.0 - cos ** 2).clamp(min=1e-7))
                target = cos * cos_m - sin * sin_m  # cos(theta + m)
                target = torch.where(cos > -cos_m, target, cos - margin * sin_m)  # keep it monotone
                onehot = F.one_hot(yt[batch], n_classes).bool()
                logits = self.scale * torch.where(onehot, target, cos)
                loss = F.cross_entropy(logits, yt[batch])
                for opt in optimisers:
                    opt.zero_grad()
                loss.backward()
                for opt in optimisers:
                    opt.step()
        self.head_.eval()
        return self

    @torch.inference_mode()
    def transform(self, x: np.ndarray, grams: sp.csr_matrix | None = None, batch: int = 8192) -> np.ndarray:
        xt = torch.from_numpy(np.asarray(x, np.float32))
        if self.n_grams_ and grams is None:
            raise ValueError("this head was trained with n-gram inputs: pass grams")
        rows = None if not self.n_grams_ else sp.csr_matrix(grams, dtype=np.float32)
        with torch_threads(self.threads):
            return torch.cat([self.head_(xt[i:i + batch], _bags(None if rows is None else rows[i:i + batch]))
                              for i in range(0, len(xt), batch)]).numpy()

    def save(self, path: str | Path) -> None:
        state = {k: v.contiguous() for k, v in self.head_.state_dict().items()}
        state["_in_dim"] = torch.tensor(self.in_dim_)
        state["_n_grams"] = torch.tensor(self.n_grams_)
        with atomic_path(Path(path), suffix=".safetensors") as tmp:
            save_file(state, str(tmp))

    @classmethod
    def load(cls, path: str | Path, **settings: object) -> ArcFaceHead:
        state = load_file(str(path))
        head = cls(**settings)
        head.in_dim_ = int(state.pop("_in_dim"))
        head.n_grams_ = int(state.pop("_n_grams")) if "_n_grams" in state else 0
        head.head_ = _Head(head.in_dim_, head.n_grams_, head.dim, head.dropout)
        head.head_.load_state_dict(state)
        head.head_.eval()
        return head


@dataclass
class TitleHead:
    """The trained text side: the vocabulary of the training titles and the ArcFace head over it."""

    vocabulary: TitleVocabulary
    head: ArcFaceHead

    @classmethod
    def fit(cls, titles: pd.Series, x: np.ndarray, labels: np.ndarray, config: MatchingConfig,
            seed: int) -> TitleHead:
        vocab = TitleVocabulary().fit(titles.tolist())
        head = ArcFaceHead(dim=config.arcface_dim, epochs=config.arcface_epochs, seed=seed)
        return cls(vocab, head.fit(x, labels, vocab.transform(titles.tolist())))

    def transform(self, titles: pd.Series, x: np.ndarray) -> np.ndarray:
        return self.head.transform(x, self.vocabulary.transform(titles.tolist()))

    def save(self, folder: Path) -> None:
        self.vocabulary.save(folder / "vocabulary.json")
        self.head.save(folder / "arcface.safetensors")

    @classmethod
    def load(cls, files: Files, dim: int) -> TitleHead:
        """From a fitted folder's checked files (see :class:`culturecart.persist.Files`)."""
        return cls(TitleVocabulary.load(files.path("vocabulary.json")),
                   ArcFaceHead.load(files.path("arcface.safetensors"), dim=dim))
