"""Models: features per modality, the baseline ladder, fusion models, one contract.

Example:
    >>> from culturecart.models import create_model
    >>> create_model("lgbm").name
    'lightgbm'
"""

from culturecart.models.base import ModelConfig, PurchaseModel
from culturecart.models.features import MODALITIES, ModalityData, build_features
from culturecart.models.registry import LADDER, MODEL_CLASSES, create_model, model_spec, needs_raw_text

__all__ = ["LADDER", "MODALITIES", "MODEL_CLASSES", "ModalityData", "ModelConfig", "PurchaseModel",
           "build_features", "create_model", "model_spec", "needs_raw_text"]
