"""Ranking across markets and sessions: the markets layout, rankers behind one contract (popularity, item-kNN,
EASE, ALS/BPR, the LambdaRank re-ranker), cross-market scopes and evaluation, RQ3/RQ5 statistics for rankers, and
next-item models for sessions."""
