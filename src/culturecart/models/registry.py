"""The model ladder by name: one explicit table with aliases (no registration by import side effect).

Example:
    >>> create_model("mmbt").name, create_model("text_only").config.modalities
    ('transformer', ['text'])
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from culturecart.models.base import ModelConfig, PurchaseModel
from culturecart.models.configs import (
    LateFusionConfig,
    LightGBMConfig,
    LogisticConfig,
    NeuralConfig,
    NgramConfig,
    TransformerConfig,
)


@dataclass(frozen=True)
class ModelSpec:
    """A named rung of the ladder: a model class with fixed config defaults.

    The class is named (``"module:Class"``) and imported when first used, so that naming, listing and checking
    models (a study configuration) does not import torch or LightGBM.
    """

    name: str
    target: str
    config: type[ModelConfig]
    description: str
    defaults: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    reads_raw_text: bool = False  # tokenises the raw text itself (features built with keep_text=True)

    @property
    def cls(self) -> type[PurchaseModel]:
        return _imported(self.target)


_LOGISTIC, _LIGHTGBM = "culturecart.models.tabular:LogisticModel", "culturecart.models.tabular:LightGBMModel"
_MLP, _TRANSFORMER = "culturecart.models.neural:MLPModel", "culturecart.models.neural:TransformerModel"
_LATE, _NGRAM = "culturecart.models.late_fusion:LateFusionModel", "culturecart.models.text_ngram:NgramLogisticModel"

LADDER: tuple[ModelSpec, ...] = (
    ModelSpec("logistic", _LOGISTIC, LogisticConfig, "logistic regression on all features", aliases=("lr", "logit")),
    ModelSpec("lightgbm", _LIGHTGBM, LightGBMConfig, "gradient-boosted trees on all features",
              aliases=("lgbm", "gbdt")),
    ModelSpec("offer_only", _MLP, NeuralConfig, "MLP on offer attributes", {"modalities": ["offer"]},
              ("tabular_only",)),
    ModelSpec("consumer_only", _MLP, NeuralConfig, "MLP on consumer attributes", {"modalities": ["consumer"]}),
    ModelSpec("behaviour_only", _MLP, NeuralConfig, "MLP on behaviour", {"modalities": ["behaviour"]},
              ("behavior_only",)),
    ModelSpec("text_only", _MLP, NeuralConfig, "MLP on text embeddings", {"modalities": ["text"]}),
    ModelSpec("ngram_logistic", _NGRAM, NgramConfig, "TF-IDF n-grams of the raw text + logistic regression",
              {"modalities": ["text"]}, ("tfidf", "tfidf_logistic"), reads_raw_text=True),
    ModelSpec("image_only", _MLP, NeuralConfig, "MLP on image embeddings", {"modalities": ["image"]}),
    ModelSpec("mlp", _MLP, NeuralConfig, "early (concat) fusion MLP",
              aliases=("concat", "early_fusion", "concat_fusion")),
    ModelSpec("late_fusion", _LATE, LateFusionConfig, "stacked unimodal models", aliases=("stacking", "late")),
    ModelSpec("transformer", _TRANSFORMER, TransformerConfig, "cross-modal transformer over modality tokens",
              aliases=("mmbt", "cross_modal_transformer", "fusion_transformer")),
)


_CLASS_TARGETS = {"logistic": _LOGISTIC, "lightgbm": _LIGHTGBM, "mlp": _MLP, "transformer": _TRANSFORMER,
                  "late_fusion": _LATE, "ngram_logistic": _NGRAM}


def _imported(target: str) -> type[PurchaseModel]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class _Classes(Mapping):
    """Model class by the name a saved model records (``PurchaseModel.name``), imported on first use."""

    def __getitem__(self, name: str) -> type[PurchaseModel]:
        return _imported(_CLASS_TARGETS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(_CLASS_TARGETS)

    def __len__(self) -> int:
        return len(_CLASS_TARGETS)


MODEL_CLASSES: Mapping[str, type[PurchaseModel]] = _Classes()

_BY_NAME = {key: spec for spec in LADDER for key in (spec.name, *spec.aliases)}


def model_spec(name: str) -> ModelSpec:
    key = name.strip().lower()
    if key not in _BY_NAME:
        raise KeyError(f"unknown model {name!r}; valid: {sorted(_BY_NAME)}")
    return _BY_NAME[key]


def needs_raw_text(names: list[str]) -> bool:
    """Whether any of these models tokenises the raw text itself (build features with ``keep_text=True``)."""
    return any(model_spec(n).reads_raw_text for n in names)


def check_options(name: str, options: dict) -> None:
    """Raise ``ValueError`` naming the model and the offending key when ``options`` do not fit its config (or
    naming the valid models when ``name`` is none of them).

    Example:
        >>> check_options("transformer", {"epochs": 8, "fast_dropout": True})
        >>> check_options("lightgbm", {"epochz": 8})
        Traceback (most recent call last):
        ...
        ValueError: options of model 'lightgbm': epochz: Extra inputs are not permitted
    """
    from pydantic import ValidationError

    try:
        spec = model_spec(name)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    try:
        spec.config(**{**spec.defaults, **options})
    except ValidationError as err:
        wrong = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ValueError(f"options of model {name!r}: {wrong}") from None


def create_model(name: str, **overrides: object) -> PurchaseModel:
    """Instantiate a ladder model by name or alias; ``overrides`` update its typed config."""
    spec = model_spec(name)
    return spec.cls(**{**spec.defaults, **overrides})
