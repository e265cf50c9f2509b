"""The model ladder by name: one registry of entries with aliases (no registration by import side effect).

Example:
    >>> create_model("mmbt").name, create_model("text_only").config.modalities
    ('transformer', ['text'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from culturecart.config_files import validated
from culturecart.models.base import PurchaseModel
from culturecart.models.configs import (
    LateFusionConfig,
    LightGBMConfig,
    LogisticConfig,
    ModelConfig,
    NeuralConfig,
    NgramConfig,
    TransformerConfig,
)
from culturecart.registry import Entry, Registry


@dataclass(frozen=True)
class ModelSpec(Entry):
    """A named rung of the ladder: a model class (``target``, imported on first use) with fixed config defaults.

    The config class is light (:mod:`culturecart.models.configs`), so naming, listing and checking models (a study
    configuration) imports no torch or LightGBM.
    """

    config: type[ModelConfig] = ModelConfig
    defaults: dict = field(default_factory=dict)
    reads_raw_text: bool = False  # tokenises the raw text itself (features built with keep_text=True)

    @property
    def cls(self) -> type[PurchaseModel]:
        return self.load()


_LOGISTIC, _LIGHTGBM = "culturecart.models.tabular:LogisticModel", "culturecart.models.tabular:LightGBMModel"
_MLP, _TRANSFORMER = "culturecart.models.neural:MLPModel", "culturecart.models.neural:TransformerModel"
_LATE, _NGRAM = "culturecart.models.late_fusion:LateFusionModel", "culturecart.models.text_ngram:NgramLogisticModel"

LADDER: tuple[ModelSpec, ...] = (
    ModelSpec("logistic", _LOGISTIC, "logistic regression on all features", ("lr", "logit"), LogisticConfig),
    ModelSpec("lightgbm", _LIGHTGBM, "gradient-boosted trees on all features (fast, strong)", ("lgbm", "gbdt"),
              LightGBMConfig),
    ModelSpec("offer_only", _MLP, "MLP on offer attributes", ("tabular_only",), NeuralConfig,
              {"modalities": ["offer"]}),
    ModelSpec("consumer_only", _MLP, "MLP on consumer attributes", (), NeuralConfig, {"modalities": ["consumer"]}),
    ModelSpec("behaviour_only", _MLP, "MLP on behaviour", ("behavior_only",), NeuralConfig,
              {"modalities": ["behaviour"]}),
    ModelSpec("text_only", _MLP, "MLP on text embeddings", (), NeuralConfig, {"modalities": ["text"]}),
    ModelSpec("ngram_logistic", _NGRAM, "TF-IDF n-grams of the raw text + logistic regression",
              ("tfidf", "tfidf_logistic"), NgramConfig, {"modalities": ["text"]}, reads_raw_text=True),
    ModelSpec("image_only", _MLP, "MLP on image embeddings", (), NeuralConfig, {"modalities": ["image"]}),
    ModelSpec("mlp", _MLP, "early (concat) fusion MLP", ("concat", "early_fusion", "concat_fusion"), NeuralConfig),
    ModelSpec("late_fusion", _LATE, "stacked unimodal models", ("stacking", "late"), LateFusionConfig),
    ModelSpec("transformer", _TRANSFORMER, "cross-modal transformer over modality tokens (slowest)",
              ("mmbt", "cross_modal_transformer", "fusion_transformer"), TransformerConfig),
)
MODELS: Registry[ModelSpec] = Registry("model", LADDER)


def model_spec(name: str) -> ModelSpec:
    """The ladder entry of ``name`` or an alias; :class:`~culturecart.registry.UnknownNameError` lists the models."""
    return MODELS.resolve(name)


def needs_raw_text(names: list[str]) -> bool:
    """Whether any of these models tokenises the raw text itself (build features with ``keep_text=True``)."""
    return any(model_spec(n).reads_raw_text for n in names)


def check_options(name: str, options: dict) -> None:
    """Raise :class:`~culturecart.errors.ConfigError` naming the model and the offending key when ``options`` do
    not fit its config (or naming the valid models when ``name`` is none of them).

    Example:
        >>> check_options("transformer", {"epochs": 8, "fast_dropout": True})
        >>> check_options("lightgbm", {"epochz": 8})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        culturecart.errors.ConfigError: options of model lightgbm: epochz: unknown option (valid: ...)
    """
    spec = model_spec(name)
    validated(spec.config, {**spec.defaults, **options}, f"options of model {spec.name}")


def create_model(name: str, **overrides: object) -> PurchaseModel:
    """Instantiate a ladder model by name or alias; ``overrides`` update its typed config."""
    spec = model_spec(name)
    return spec.cls(**{**spec.defaults, **overrides})
