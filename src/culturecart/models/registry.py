"""The model ladder by name: one explicit table with aliases (no registration by import side effect).

Example:
    >>> create_model("mmbt").name, create_model("text_only").config.modalities
    ('transformer', ['text'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from culturecart.models.base import PurchaseModel
from culturecart.models.late_fusion import LateFusionModel
from culturecart.models.neural import MLPModel, TransformerModel
from culturecart.models.tabular import LightGBMModel, LogisticModel
from culturecart.models.text_ngram import NgramLogisticModel

MODEL_CLASSES: dict[str, type[PurchaseModel]] = {
    cls.name: cls for cls in (LogisticModel, LightGBMModel, MLPModel, LateFusionModel, TransformerModel,
                              NgramLogisticModel)
}


@dataclass(frozen=True)
class ModelSpec:
    """A named rung of the ladder: a model class with fixed config defaults."""

    name: str
    cls: type[PurchaseModel]
    description: str
    defaults: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


LADDER: tuple[ModelSpec, ...] = (
    ModelSpec("logistic", LogisticModel, "logistic regression on all features", aliases=("lr", "logit")),
    ModelSpec("lightgbm", LightGBMModel, "gradient-boosted trees on all features", aliases=("lgbm", "gbdt")),
    ModelSpec("offer_only", MLPModel, "MLP on offer attributes", {"modalities": ["offer"]}, ("tabular_only",)),
    ModelSpec("consumer_only", MLPModel, "MLP on consumer attributes", {"modalities": ["consumer"]}),
    ModelSpec("behaviour_only", MLPModel, "MLP on behaviour", {"modalities": ["behaviour"]}, ("behavior_only",)),
    ModelSpec("text_only", MLPModel, "MLP on text embeddings", {"modalities": ["text"]}),
    ModelSpec("ngram_logistic", NgramLogisticModel, "TF-IDF n-grams of the raw text + logistic regression",
              {"modalities": ["text"]}, ("tfidf", "tfidf_logistic")),
    ModelSpec("image_only", MLPModel, "MLP on image embeddings", {"modalities": ["image"]}),
    ModelSpec("mlp", MLPModel, "early (concat) fusion MLP", aliases=("concat", "early_fusion", "concat_fusion")),
    ModelSpec("late_fusion", LateFusionModel, "stacked unimodal models", aliases=("stacking", "late")),
    ModelSpec("transformer", TransformerModel, "cross-modal transformer over modality tokens",
              aliases=("mmbt", "cross_modal_transformer", "fusion_transformer")),
)
_BY_NAME = {key: spec for spec in LADDER for key in (spec.name, *spec.aliases)}


def model_spec(name: str) -> ModelSpec:
    key = name.strip().lower()
    if key not in _BY_NAME:
        raise KeyError(f"unknown model {name!r}; valid: {sorted(_BY_NAME)}")
    return _BY_NAME[key]


def needs_raw_text(names: list[str]) -> bool:
    """Whether any of these models tokenises the raw text itself (build features with ``keep_text=True``)."""
    return any(getattr(model_spec(n).cls, "reads_raw_text", False) for n in names)


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
        spec.cls.config_class(**{**spec.defaults, **options})
    except ValidationError as err:
        wrong = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ValueError(f"options of model {name!r}: {wrong}") from None


def create_model(name: str, **overrides: object) -> PurchaseModel:
    """Instantiate a ladder model by name or alias; ``overrides`` update its typed config."""
    spec = model_spec(name)
    return spec.cls(**{**spec.defaults, **overrides})
