"""Models: features per modality, the baseline ladder, fusion models, one contract.

Example:
    >>> from culturecart.models import create_model
    >>> create_model("lgbm").name
    'lightgbm'
"""

from culturecart.models.base import PurchaseModel
from culturecart.models.configs import ModelConfig
from culturecart.models.features import MODALITIES, ModalityData
from culturecart.models.featurizer import build_features
from culturecart.models.registry import LADDER, MODELS, create_model, model_spec, needs_raw_text

__all__ = ["LADDER", "MODALITIES", "MODELS", "ModalityData", "ModelConfig", "PurchaseModel",
           "build_features", "create_model", "model_spec", "needs_raw_text"]
