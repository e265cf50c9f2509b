"""Feature attributions aggregated by modality (and by country): TreeSHAP, integrated gradients, attention."""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.models.features import ModalityData


def _shares(abs_by_modality: dict[str, np.ndarray], country: np.ndarray | None) -> pd.DataFrame:
    frame = pd.DataFrame(abs_by_modality)
    frame["country"] = "all" if country is None else pd.Series(country).fillna("unknown").to_numpy()
    parts = [frame.drop(columns="country").mean().to_frame("all").T]
    if country is not None:
        parts.append(frame.groupby("country").mean())
    out = pd.concat(parts)
    return out.div(out.sum(axis=1), axis=0)


def treeshap_by_modality(model, data: ModalityData, by_country: bool = True) -> pd.DataFrame:
    """Share of mean |TreeSHAP| per modality (rows: all, then each country) from a LightGBM model."""
    contrib = model.contributions(data)[:, :-1]
    mods = np.array(model.feature_modalities())
    abs_by = {m: np.abs(contrib[:, mods == m]).sum(axis=1) for m in model.modalities_}
    return _shares(abs_by, data.meta["country"].to_numpy() if by_country else None)


def integrated_gradients_by_modality(model, data: ModalityData, steps: int = 32,
                                     by_country: bool = True) -> pd.DataFrame:
    """Share of mean |integrated gradients| per modality from a neural model."""
    attr = model.integrated_gradients(data, steps=steps)
    abs_by = {m: np.abs(a).sum(axis=1) for m, a in attr.items()}
    return _shares(abs_by, data.meta["country"].to_numpy() if by_country else None)


def attention_by_modality(model, data: ModalityData, by_country: bool = True) -> pd.DataFrame:
    """Share of the CLS token's attention per modality from the cross-modal transformer."""
    weights, token_mod = model.attention(data)
    mods = np.array(token_mod)
    abs_by = {m: weights[:, mods == m].sum(axis=1) for m in model.modalities_}
    return _shares(abs_by, data.meta["country"].to_numpy() if by_country else None)
