"""Rankers by name: one registry (the same shape as the models', encoders', metrics' and adapters').

Example:
    >>> RANKERS.names()
    ['popularity', 'itemknn', 'userknn', 'ease', 'als', 'bpr', 'lightgcn', 'rerank']
    >>> create_ranker("EASE", l2=50.0).config.l2
    50.0
"""

from __future__ import annotations

from culturecart.registry import Entry, Registry

RANKERS: Registry[Entry] = Registry("ranker", [
    Entry("popularity", "culturecart.ranking.rankers:Popularity", "item popularity (seconds)", ("pop",)),
    Entry("itemknn", "culturecart.ranking.rankers:ItemKNN", "item-kNN, co-occurrence cosine or Jaccard (seconds)",
          ("item-knn", "knn")),
    Entry("userknn", "culturecart.ranking.rankers:UserKNN", "user-kNN over the users of every included market "
                                                            "(seconds)", ("user-knn",)),
    Entry("ease", "culturecart.ranking.rankers:EASE", "EASE closed-form item-item ridge, option l2 (seconds)"),
    Entry("als", "culturecart.ranking.rankers:MatrixFactorisation", "implicit ALS matrix factorisation (seconds)"),
    Entry("bpr", "culturecart.ranking.rankers:BPR", "implicit BPR matrix factorisation (seconds)"),
    Entry("lightgcn", "culturecart.ranking.lightgcn:LightGCN", "LightGCN graph embeddings trained with BPR, torch "
                                                                "(tens of seconds)", ("lgcn",)),
    Entry("rerank", "culturecart.ranking.rerank:ReRanker", "LightGBM LambdaRank over every base ranker "
                                                             "(minutes: the strongest)", ("reranker", "lambdarank")),
])


def create_ranker(name: str, **options: object):
    """A ranker by name or alias; ``options`` are checked against its typed config (unknown ones are refused)."""
    return RANKERS.load(name)(**options)
