"""PyTorch networks: per-modality MLP fusion and the cross-modal transformer (MMBT-style).

Every projection is built in ``__init__``; each network maps ``(blocks, masks)`` (dicts keyed by
modality, blocks already preprocessed, masks True where the row has the modality) to one logit.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def bernoulli_keep(shape: tuple[int, ...], p: float) -> torch.Tensor:
    """A float32 mask of ``shape``: 0 with probability ``p`` (quantised to 1/65536), else 1 / (1 - that p).

    ``torch.dropout`` on CPU draws two 32-bit numbers from the generator per element, which is most of a small
    transformer's training time on one thread; here each 64-bit draw of the same generator (so
    ``torch.manual_seed`` fixes the masks) gives four 16-bit uniforms.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> mask = bernoulli_keep((100_000,), 0.1)
        >>> round(float((mask == 0).float().mean()), 2), round(float(mask.max()), 4)
        (0.1, 1.1111)
    """
    n = 1
    for size in shape:
        n *= size
    words = torch.randint(-2 ** 63, 2 ** 63 - 1, ((n + 3) // 4,), dtype=torch.int64)
    uniform16 = words.view(torch.int16)[:n].view(shape)  # each in [-32768, 32767], uniform
    dropped = round(p * 65536)
    return (uniform16 >= dropped - 32768).to(torch.float32).mul_(65536 / (65536 - dropped))


class FastDropout(nn.Module):
    """Inverted dropout with :func:`bernoulli_keep` masks; the identity in eval mode or at p = 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * bernoulli_keep(tuple(x.shape), self.p)


def dropout_layer(p: float, fast: bool) -> nn.Module:
    """:class:`FastDropout` or ``nn.Dropout`` (same rate, different random streams: not the same model)."""
    return FastDropout(p) if fast else nn.Dropout(p)


class MLPFusionNet(nn.Module):
    """Each modality -> its own projection (with a presence input) -> concatenated -> MLP -> logit.

    With one modality this is the unimodal network of the ladder; with several it is early
    (concat) fusion, as in the concat baselines of Kiela et al. (2019, "Supervised Multimodal
    Bitransformers", arXiv 1909.02950).
    """

    def __init__(self, dims: dict[str, int], hidden: int = 64, dropout: float = 0.1,
                 fast_dropout: bool = False) -> None:
        super().__init__()
        self.modalities = list(dims)
        self.proj = nn.ModuleDict({m: nn.Sequential(nn.Linear(d + 1, hidden), nn.ReLU()) for m, d in dims.items()})
        self.head = nn.Sequential(dropout_layer(dropout, fast_dropout), nn.Linear(hidden * len(dims), hidden),
                                  nn.ReLU(), dropout_layer(dropout, fast_dropout), nn.Linear(hidden, 1))
        self.out_dim = 1

    def forward(self, blocks: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.proj[m](torch.cat([blocks[m], masks[m].float().unsqueeze(1)], dim=1)) for m in self.modalities]
        return self.head(torch.cat(parts, dim=1)).squeeze(1)


class Block(nn.Module):
    """Pre-norm transformer encoder layer whose attention weights can be returned.

    With ``fast_dropout`` the attention is computed here from ``nn.MultiheadAttention``'s own parameters (so
    saved weights load either way), with :class:`FastDropout` on the attention weights and after each sublayer;
    without it, ``nn.MultiheadAttention`` and ``nn.Dropout`` run as they are.
    """

    def __init__(self, d: int, heads: int, dropout: float, fast_dropout: bool = False) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), dropout_layer(dropout, fast_dropout),
                                 nn.Linear(2 * d, d))
        self.drop = dropout_layer(dropout, fast_dropout)
        self.attn_drop = FastDropout(dropout) if fast_dropout else None

    def attention(self, h: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Multi-head self-attention of ``h`` (batch, tokens, d), ``pad`` (batch, tokens) True where a key is
        absent; the output and the weights averaged over heads (before dropout), by this module's own code."""
        b, t, d = h.shape
        heads = self.attn.num_heads
        q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2)
                   for z in nn.functional.linear(h, self.attn.in_proj_weight, self.attn.in_proj_bias).chunk(3, -1))
        scores = (q * (d // heads) ** -0.5) @ k.transpose(-1, -2)
        weights = scores.masked_fill(pad[:, None, None, :], float("-inf")).softmax(dim=-1)
        dropped = self.attn_drop(weights) if self.attn_drop is not None else weights
        out = (dropped @ v).transpose(1, 2).reshape(b, t, d)
        return self.attn.out_proj(out), weights.mean(dim=1)

    def training_attention(self, h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """``nn.MultiheadAttention``'s output in training (``need_weights=False``), op for op and in its row
        order, so the outputs and every gradient are the same bit for bit (tested), without the work its
        general path adds here: the packed projection's copy and torch's ``_safe_softmax``, which scans the
        whole attention tensor for rows with every key masked (the CLS token is never masked, so there are
        none). A fifth less time per training step of this block on one CPU thread.
        """
        attn = self.attn
        b, t, d = h.shape
        heads = attn.num_heads
        hd = d // heads
        proj = nn.functional.linear(h.transpose(0, 1), attn.in_proj_weight, attn.in_proj_bias)  # (t, b, 3d)
        q, k, v = (z.view(t, b, heads, hd).permute(1, 2, 0, 3) for z in proj.chunk(3, -1))
        mask = torch.zeros_like(pad, dtype=h.dtype).masked_fill_(pad, float("-inf")).view(b, 1, 1, t)
        scale = math.sqrt(1.0 / math.sqrt(hd))  # scaled_dot_product_attention scales q and k by its root
        scores = torch.matmul(q * scale, k.transpose(-2, -1) * scale)
        scores.add_(mask)
        weights = nn.functional.dropout(torch.softmax(scores, -1), attn.dropout, True)
        out = torch.matmul(weights, v).permute(2, 0, 1, 3).contiguous().view(t * b, d)
        return nn.functional.linear(out, attn.out_proj.weight, attn.out_proj.bias).view(t, b, d).transpose(0, 1)

    def forward(self, x: torch.Tensor, pad: torch.Tensor, need_weights: bool = False):
        h = self.norm1(x)
        if self.attn_drop is not None:
            out, weights = self.attention(h, pad)
        elif self.training and not need_weights:
            out, weights = self.training_attention(h, pad), None
        else:
            out, weights = self.attn(h, h, h, key_padding_mask=pad, need_weights=need_weights,
                                     average_attn_weights=True)
        x = x + self.drop(out)
        x = x + self.drop(self.ffn(self.norm2(x)))
        return x, (weights if need_weights else None)


class CrossModalTransformer(nn.Module):
    """Tokens from every modality, one encoder over all of them, read out at a CLS token.

    * tabular modalities: one token per source feature, ``sum_j x_j * W_j + b_t`` over the columns j of
      feature t (the feature tokenizer of FT-Transformer, Gorishniy et al. 2021, NeurIPS: a numeric
      feature is one column, a one-hot categorical is an embedding lookup over its levels);
    * embedding modalities (text, image): the vector projected to ``embedding_tokens`` tokens
      (MMBT, Kiela et al. 2019);
    * a learned modality-type embedding on every token, a CLS token, ``n_layers`` pre-norm layers;
    * a key-padding mask removes the tokens of modalities a row does not have, and in training whole
      modalities are dropped at random (modality dropout) so the model copes with missing ones.
    """

    def __init__(self, dims: dict[str, int], kinds: dict[str, str], groups: dict[str, list[int]],
                 d_model: int = 32, n_layers: int = 2, n_heads: int = 4, dropout: float = 0.1,
                 embedding_tokens: int = 2, modality_dropout: float = 0.1, fast_dropout: bool = False) -> None:
        super().__init__()
        self.modalities = list(dims)
        self.kinds = kinds
        self.d_model = d_model
        self.embedding_tokens = embedding_tokens
        self.modality_dropout = modality_dropout
        self.feature_weight = nn.ParameterDict()
        self.feature_bias = nn.ParameterDict()
        self.project = nn.ModuleDict()
        token_modality = []
        for i, (m, d) in enumerate(dims.items()):
            if kinds[m] == "tabular":
                group = torch.tensor(groups[m], dtype=torch.long)
                n_tokens = int(group.max()) + 1
                self.feature_weight[m] = nn.Parameter(torch.randn(d, d_model) * d_model ** -0.5)
                self.feature_bias[m] = nn.Parameter(torch.zeros(n_tokens, d_model))
                self.register_buffer(f"group_{m}", nn.functional.one_hot(group, n_tokens).T.float())
                token_modality += [i] * n_tokens
            else:
                self.project[m] = nn.Linear(d, d_model * embedding_tokens)
                token_modality += [i] * embedding_tokens
        self.register_buffer("token_modality", torch.tensor(token_modality, dtype=torch.long))
        self.type_embedding = nn.Embedding(len(dims), d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.layers = nn.ModuleList(Block(d_model, n_heads, dropout, fast_dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 1)

    def tokens(self, blocks: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]):
        parts, pads = [], []
        drop = self._modality_drop(masks) if self.training and self.modality_dropout > 0 else None
        for m in self.modalities:
            x = blocks[m]
            if self.kinds[m] == "tabular":
                columns = x.unsqueeze(2) * self.feature_weight[m]
                tok = torch.einsum("tj,bjd->btd", getattr(self, f"group_{m}"), columns) + self.feature_bias[m]
            else:
                tok = self.project[m](x).view(x.shape[0], self.embedding_tokens, self.d_model)
            absent = ~masks[m] if drop is None else ~masks[m] | drop[m]
            parts.append(tok)
            pads.append(absent.unsqueeze(1).expand(-1, tok.shape[1]))
        x = torch.cat(parts, dim=1) + self.type_embedding(self.token_modality)
        pad = torch.cat(pads, dim=1)
        cls = self.cls.expand(x.shape[0], -1, -1)
        pad = torch.cat([torch.zeros(x.shape[0], 1, dtype=torch.bool, device=x.device), pad], dim=1)
        return torch.cat([cls, x], dim=1), pad

    def _modality_drop(self, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        n = next(iter(masks.values())).shape[0]
        drop = {m: torch.rand(n) < self.modality_dropout for m in self.modalities}
        kept = torch.stack([masks[m] & ~drop[m] for m in self.modalities], dim=1)
        # A row must keep at least one modality it has: undo the drops of rows that lost them all.
        lost = ~kept.any(dim=1)
        return {m: d & ~lost for m, d in drop.items()}

    def forward(self, blocks: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
                return_attention: bool = False):
        x, pad = self.tokens(blocks, masks)
        weights = None
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            x, w = layer(x, pad, need_weights=return_attention and last)
            if w is not None:
                weights = w
        logit = self.head(self.norm(x[:, 0])).squeeze(1)
        if return_attention:
            return logit, weights[:, 0, 1:]  # the CLS token's attention over the modality tokens
        return logit
