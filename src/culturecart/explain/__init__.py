"""Explanations: modality ablations and Shapley values, attributions by modality and country."""

from culturecart.explain.attributions import (
    attention_by_modality,
    integrated_gradients_by_modality,
    treeshap_by_modality,
)
from culturecart.explain.modality import add_one, leave_one_out, modality_shapley

__all__ = ["add_one", "attention_by_modality", "integrated_gradients_by_modality", "leave_one_out",
           "modality_shapley", "treeshap_by_modality"]
