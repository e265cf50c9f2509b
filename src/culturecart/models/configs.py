"""The models' typed settings, apart from the models, so that a study configuration is checked without importing
torch, LightGBM or scikit-learn (the command line reads its configuration before anything heavy loads).

Example:
    >>> TransformerConfig(epochs=8).d_model
    32
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelConfig(BaseModel):
    """Base of every model's typed config (unknown keys are errors that name the key)."""

    model_config = ConfigDict(extra="forbid")

    modalities: list[str] | None = None  # None = every modality in the data
    seed: int = 0


class LogisticConfig(ModelConfig):
    C: float = Field(1.0, gt=0)
    class_weight: str | None = None
    max_iter: int = Field(2000, ge=10)
    log_skewed: bool = Field(False, description="log1p on skewed non-negative tabular columns (fitted on training rows)")


class LightGBMConfig(ModelConfig):
    n_estimators: int = Field(2000, ge=1)
    learning_rate: float = Field(0.03, gt=0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(20, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(100, ge=1)
    finetune_rounds: int = Field(300, ge=1, description="extra trees at most when fine-tuning")
    finetune_learning_rate: float = Field(0.01, gt=0)
    n_jobs: int = Field(0, ge=0, description="threads; 0 = this process's budget (parallel.thread_budget)")


class NeuralConfig(ModelConfig):
    hidden: int = Field(64, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(512, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(4, ge=1)
    balance_classes: bool = True
    calibration: Literal["platt", "temperature", "isotonic", "none"] = "platt"
    valid_share: float = Field(0.1, gt=0, lt=0.5, description="held out by user when no valid set is given")
    threads: int = Field(1, ge=0, description="torch threads while training; fixed so the model is the same under "
                         "any core count or n_jobs (torch's sums depend on it); 0 = this process's budget")
    finetune_epochs: int = Field(10, ge=1)
    finetune_lr_factor: float = Field(0.3, gt=0)
    log_skewed: bool = Field(False, description="log1p on skewed non-negative tabular columns (fitted on training rows)")
    fast_dropout: bool = Field(False, description="dropout masks from 16-bit draws (nets.FastDropout): the "
                               "transformer trains about a third faster on CPU, but the random stream differs, so "
                               "the model is not the one trained with torch's dropout under the same seed")


class TransformerConfig(NeuralConfig):
    d_model: int = Field(32, ge=4)
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(4, ge=1)
    embedding_tokens: int = Field(2, ge=1)
    modality_dropout: float = Field(0.1, ge=0, lt=1)
    lr: float = Field(1e-3, gt=0)


class LateFusionConfig(ModelConfig):
    base: str = "lightgbm"
    base_options: dict[str, object] = Field(default_factory=dict)
    bases: dict[str, dict[str, object]] = Field(default_factory=dict)
    valid_share: float = Field(0.2, gt=0, lt=0.5)


class NgramConfig(ModelConfig):
    modalities: list[str] | None = Field(default_factory=lambda: ["text"])
    analyzer: Literal["word", "char_wb"] = Field("word", description="char_wb for scripts without spaces (CJK)")
    ngram_max: int = Field(2, ge=1, le=6)
    min_df: int = Field(2, ge=1)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True
    C: float = Field(4.0, gt=0)
    class_weight: str | None = None
    max_iter: int = Field(3000, ge=10)
