"""Shopee-style product matching: embeddings, ArcFace heads, faiss kNN, thresholds + min2, INB, union, F1."""
