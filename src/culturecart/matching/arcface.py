"""An ArcFace projection head (Deng et al. 2019, CVPR) trained on label groups, on top of frozen embeddings.

The head maps an input embedding to a ``dim``-d vector; training adds an additive angular margin ``m``
to the angle between each vector and its group's class centre (logits ``s * cos(theta + m)`` for the true
class), with ``m`` rising linearly from ``margin_start`` to ``margin_end`` over the epochs (a margin
schedule, as in the Shopee solutions). Only the head is saved (safetensors); class centres are discarded.

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

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F  # noqa: N812


class _Head(nn.Module):
    def __init__(self, in_dim: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, dim), nn.BatchNorm1d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


@dataclass
class ArcFaceHead:
    dim: int = 256
    epochs: int = 15
    batch_size: int = 512
    lr: float = 3e-3
    scale: float = 30.0
    margin_start: float = 0.2
    margin_end: float = 0.5
    dropout: float = 0.2
    seed: int = 0
    threads: int = 2

    def fit(self, x: np.ndarray, labels: np.ndarray) -> ArcFaceHead:
        torch.manual_seed(self.seed)
        torch.set_num_threads(self.threads)
        codes = np.unique(np.asarray(labels), return_inverse=True)[1]
        n_classes = int(codes.max()) + 1
        xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(codes.astype(np.int64))
        self.in_dim_ = xt.shape[1]
        self.head_ = _Head(self.in_dim_, self.dim, self.dropout)
        centres = nn.Parameter(torch.randn(n_classes, self.dim) * 0.01)
        opt = torch.optim.AdamW([*self.head_.parameters(), centres], lr=self.lr, weight_decay=1e-4)
        gen = torch.Generator().manual_seed(self.seed)
        for epoch in range(self.epochs):
            margin = self.margin_start + (self.margin_end - self.margin_start) * epoch / max(1, self.epochs - 1)
            cos_m, sin_m = math.cos(margin), math.sin(margin)
            self.head_.train()
            for batch in torch.randperm(len(yt), generator=gen).split(self.batch_size):
                if len(batch) < 2:
                    continue
                z = self.head_(xt[batch])
                cos = z @ F.normalize(centres, dim=1).T
                sin = torch.sqrt((1.0 - cos ** 2).clamp(min=1e-7))
                target = cos * cos_m - sin * sin_m  # cos(theta + m)
                target = torch.where(cos > -cos_m, target, cos - margin * sin_m)  # keep it monotone
                onehot = F.one_hot(yt[batch], n_classes).bool()
                logits = self.scale * torch.where(onehot, target, cos)
                loss = F.cross_entropy(logits, yt[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.head_.eval()
        return self

    @torch.inference_mode()
    def transform(self, x: np.ndarray, batch: int = 8192) -> np.ndarray:
        xt = torch.from_numpy(np.asarray(x, np.float32))
        return torch.cat([self.head_(xt[i:i + batch]) for i in range(0, len(xt), batch)]).numpy()

    def save(self, path: str | Path) -> None:
        from culturecart.atomic import atomic_path

        state = {k: v.contiguous() for k, v in self.head_.state_dict().items()}
        state["_in_dim"] = torch.tensor(self.in_dim_)
        with atomic_path(Path(path), suffix=".safetensors") as tmp:
            save_file(state, str(tmp))

    @classmethod
    def load(cls, path: str | Path, **settings: object) -> ArcFaceHead:
        state = load_file(str(path))
        head = cls(**settings)
        head.in_dim_ = int(state.pop("_in_dim"))
        head.head_ = _Head(head.in_dim_, head.dim, head.dropout)
        head.head_.load_state_dict(state)
        head.head_.eval()
        return head
