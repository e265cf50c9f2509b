"""The matching pipeline's settings, apart from the pipeline, so that a study plans its matching folds without
importing torch, faiss or LightGBM (as the models' settings live in :mod:`culturecart.models.configs`).

Both are typed: an unknown setting or a wrong value is an error that names it.

Example:
    >>> MatchingConfig().steps.components
    ('comb', 'tfidf', 'arcface', 'phash', 'image')
    >>> MatchingConfig(k=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for MatchingConfig
    ...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

COMPONENT_NAMES = ("comb", "tfidf", "text", "arcface", "phash", "image")


class Steps(BaseModel):
    """Which parts make the final matches."""

    model_config = ConfigDict(extra="forbid")

    components: tuple[str, ...] = ("comb", "tfidf", "arcface", "phash", "image")  # absent ones are skipped
    min2: bool = True
    union: bool = True
    inb_stages: int = Field(2, ge=0)
    arcface: bool = True
    pair_model: bool = True  # a learned scorer on candidate pairs replaces the thresholded union

    @field_validator("components")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in COMPONENT_NAMES]
        if unknown:
            raise ValueError(f"unknown component(s) {unknown}; valid: {list(COMPONENT_NAMES)}")
        return tuple(value)


class MatchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_encoder: str = "use-m3"
    image_encoder: str = "effnet-lite0"
    k: int = Field(51, ge=1, description="neighbours per listing")
    inner_folds: int = Field(3, ge=2, description="GroupKFold folds inside the training file for threshold tuning")
    arcface_epochs: int = Field(8, ge=1)
    arcface_dim: int = Field(256, ge=2)
    seed: int = 0
    steps: Steps = Field(default_factory=Steps)
    # Where embeddings are cached (None: the default cache folder); a setting of the run, not saved with the model.
    embedding_cache: str | None = None

    @field_validator("text_encoder", "image_encoder")
    @classmethod
    def _encoder(cls, value: str) -> str:
        from culturecart.encoders.registry import ENCODERS

        ENCODERS.resolve(value)  # an unknown name lists the encoders
        return value
