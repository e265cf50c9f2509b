"""The matching pipeline's settings, apart from the pipeline, so that a study plans its matching folds without
importing torch, faiss or LightGBM (as the models' settings live in :mod:`culturecart.models.configs`).

Example:
    >>> MatchingConfig().steps.components
    ('comb', 'tfidf', 'arcface', 'phash', 'image')
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Steps:
    """Which parts make the final matches."""

    components: tuple[str, ...] = ("comb", "tfidf", "arcface", "phash", "image")  # absent ones are skipped
    min2: bool = True
    union: bool = True
    inb_stages: int = 2
    arcface: bool = True
    pair_model: bool = True  # a learned scorer on candidate pairs replaces the thresholded union


@dataclass
class MatchingConfig:
    text_encoder: str = "use-m3"
    image_encoder: str = "effnet-lite0"
    k: int = 51
    inner_folds: int = 3
    arcface_epochs: int = 8
    arcface_dim: int = 256
    seed: int = 0
    steps: Steps = field(default_factory=Steps)
    # Where embeddings are cached (None: the default cache folder); a setting of the run, not saved with the model.
    embedding_cache: str | None = None
