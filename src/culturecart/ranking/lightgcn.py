"""LightGCN (He et al. 2020, SIGIR): user and item embeddings smoothed over the user-item graph, trained with BPR.

Each layer averages a node's neighbours with the symmetric degree normalisation ``D^-1/2 A D^-1/2`` of the
bipartite user-item graph (edges weighted by the markets' weights); the final embedding of a node is the mean of
its layer-0 to layer-K embeddings, and a pair scores the dot product of its user's and its item's. Training
minimises the BPR loss of each training pair against an item drawn uniformly from the graph's items (an item the
user also has is kept as it falls: with a few dozen items per user among thousands it is rare), with L2 on the
layer-0 embeddings of the batch. It was the strongest single model of the WSDM Cup 2022 cross-market teams (t1
nDCG@10 0.698; BiuG-XMRec readme), there with 2048 factors on a GPU; here 256 factors on the CPU, one torch thread,
so the same seed gives the same model on any machine. The defaults were chosen on the WSDM market s2's sampled
lists, never on s3 or t2: there they score above the settings before (64 factors, batches of 8,192 at learning
rate 0.01; ``python benchmarks/wsdm_dev.py --targets s2 --arms 'lightgcn local;lightgcn local, 64 factors'``), and
the larger batches propagate the graph a quarter as often per epoch.

Example:
    >>> from culturecart.testing import small_markets
    >>> m = small_markets()
    >>> r = LightGCN(factors=8, epochs=5).fit(m, "aa", ["bb"])
    >>> r.score(["aa000", "aa000"], ["i000", "i001"]).shape
    (2,)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from culturecart.parallel import torch_threads
from culturecart.ranking.rankers import SEP, MatrixFactorisation, RankerConfig, _index, _matrix


class LightGCNConfig(RankerConfig):
    factors: int = Field(256, ge=1, description="embedding size")
    layers: int = Field(3, ge=0, description="propagation layers (0: BPR matrix factorisation)")
    epochs: int = Field(60, ge=1, description="passes over the training pairs")
    batch_size: int = Field(32768, ge=1, description="training pairs per step (the graph is propagated every step)")
    learning_rate: float = Field(0.02, gt=0, description="Adam's step size")
    l2: float = Field(1e-4, ge=0, description="L2 on the layer-0 embeddings of each batch's users and items")
    seed: int = 0


class LightGCN(MatrixFactorisation):
    """LightGCN embeddings of the included markets' users and items (see the module docstring)."""

    name = "lightgcn"
    config_class = LightGCNConfig

    def fit(self, markets, target, sources=()):
        import torch

        frame = self._interactions(markets, target, sources)
        items = np.array(sorted(set(frame["item"]) | set(markets[target].train["itemId"].astype(str))), str)
        all_users = np.array(sorted(frame["user"].unique()), dtype=str)
        x = _matrix(frame, items).tocoo()
        c = self.config
        with torch_threads(1):
            final = _train(x, c, torch.Generator().manual_seed(c.seed))
        self.items_ = items
        target_users = np.char.add(target + SEP, np.array(sorted(markets[target].train["userId"].astype(str)
                                                                  .unique()), dtype=str))
        rows = _index(target_users, all_users)
        self.user_factors_ = final[: x.shape[0]][rows].astype(np.float32)
        self.item_factors_ = final[x.shape[0]:].astype(np.float32)
        self._histories(markets, target, self.items_)
        return self


def normalised_graph(x: sp.coo_matrix):
    """``D^-1/2 A D^-1/2`` of the bipartite graph ``A = [[0, x], [x.T, 0]]`` (users first), a torch sparse matrix."""
    import warnings

    import torch

    n_users, n_items = x.shape
    user_degree = np.asarray(x.sum(axis=1)).ravel()
    item_degree = np.asarray(x.sum(axis=0)).ravel()
    norm = x.data / np.sqrt(user_degree[x.row] * item_degree[x.col])
    index = np.concatenate([np.stack([x.row, n_users + x.col]), np.stack([n_users + x.col, x.row])], axis=1)
    graph = torch.sparse_coo_tensor(torch.from_numpy(index.astype(np.int64)),
                                    torch.from_numpy(np.concatenate([norm, norm])).float(), (n_users + n_items,) * 2,
                                    check_invariants=True)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is long stable
        warnings.simplefilter("ignore", UserWarning)
        return graph.coalesce().to_sparse_csr()


def _train(x: sp.coo_matrix, c: LightGCNConfig, generator) -> np.ndarray:
    """The final (layer-mean) embeddings of the users (first rows) and items of the user x item matrix ``x``."""
    import torch

    n_users, n_items = x.shape
    graph = normalised_graph(x)
    embedding = torch.nn.Parameter(torch.randn(n_users + n_items, c.factors, generator=generator) * 0.1)
    optimiser = torch.optim.Adam([embedding], lr=c.learning_rate)
    users, positives = torch.from_numpy(x.row.astype(np.int64)), torch.from_numpy(x.col.astype(np.int64))

    def propagate(layer0):
        layers, current = [layer0], layer0
        for _ in range(c.layers):
            current = graph @ current
            layers.append(current)
        return torch.stack(layers).mean(dim=0)

    for _ in range(c.epochs):
        order = torch.randperm(len(users), generator=generator)
        for start in range(0, len(order), c.batch_size):
            batch = order[start:start + c.batch_size]
            u, i = users[batch], n_users + positives[batch]
            j = n_users + torch.randint(n_items, (len(batch),), generator=generator)
            final = propagate(embedding)
            margin = (final[u] * (final[i] - final[j])).sum(dim=1)
            decay = (embedding[u].square() + embedding[i].square() + embedding[j].square()).sum(dim=1).mean()
            loss = -torch.nn.functional.logsigmoid(margin).mean() + c.l2 * decay / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        return propagate(embedding).numpy()
