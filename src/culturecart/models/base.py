"""The one model contract: ``fit`` / ``predict_proba`` / ``save`` / ``load`` on modality data.

Every model takes a :class:`~culturecart.models.features.ModalityData` and uses all of its
modalities (select a subset with ``data.select([...])``); unimodal ladder models fix theirs in
their config. Saved models are a folder with ``model.json`` (name, config, modalities) and arrays
in safetensors / NumPy ``.npz`` (loaded with ``allow_pickle=False``) or LightGBM's text format:
never a pickle.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from culturecart.atomic import atomic_path, atomic_write_text
from culturecart.models.features import ModalityData


class ModelConfig(BaseModel):
    """Base of every model's typed config (unknown keys are errors that name the key)."""

    model_config = ConfigDict(extra="forbid")

    modalities: list[str] | None = None  # None = every modality in the data
    seed: int = 0


class PurchaseModel(ABC):
    """Predicts P(purchased = 1) for each row of modality data."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig | None = None, **overrides: object) -> None:
        base = config.model_dump() if config is not None else {}
        self.config = self.config_class.model_validate({**base, **overrides})
        self.modalities_: list[str] | None = None

    def _inputs(self, data: ModalityData) -> ModalityData:
        wanted = self.config.modalities or self.modalities_ or data.modalities
        return data.select(wanted)

    @abstractmethod
    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> PurchaseModel:
        """Fit on ``train``; ``valid`` drives early stopping and calibration where the model has them."""

    def fit_subset(self, pool: ModalityData, rows: np.ndarray, valid: ModalityData | None = None) -> PurchaseModel:
        """Fit on ``pool.rows(rows)``, learning any discretisation of the features from all of ``pool``.

        Fits on different subsets of one pool (the points of a learning curve) then share it, the way
        ``lightgbm.cv`` bins its data once for all folds. Only models that discretise (LightGBM's histogram bins)
        differ from ``fit(pool.rows(rows), valid)``; the pool's labels are not used.
        """
        return self.fit(pool.rows(rows), valid)

    def fine_tune(self, train: ModalityData, valid: ModalityData | None = None) -> PurchaseModel:
        """Continue training the fitted model on ``train`` (e.g. one country's rows); returns a new model.

        The original stays unchanged. Models that cannot continue training raise ``NotImplementedError``.
        """
        raise NotImplementedError(f"model {self.name!r} cannot be fine-tuned; use lightgbm or a neural model")

    @abstractmethod
    def predict_proba(self, data: ModalityData) -> np.ndarray:
        """P(purchased = 1), shape (n,)."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Arrays that, with the config, restore the fitted model."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray], folder: Path) -> None:
        """Inverse of ``_state``."""

    def _extra_files(self, folder: Path) -> None:  # models with non-array state (LightGBM) write it here
        return None

    def save(self, folder: str | Path) -> Path:
        """Write the fitted model to ``folder`` (each file atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "arrays.npz", suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self._state())
        self._extra_files(folder)
        atomic_write_text(folder / "model.json", json.dumps(
            {"name": self.name, "config": self.config.model_dump(), "modalities": self.modalities_}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> PurchaseModel:
        """Load a model saved by :meth:`save` (any registered model when called on the base class)."""
        from culturecart.models.registry import MODEL_CLASSES

        folder = Path(folder)
        info = json.loads((folder / "model.json").read_text("utf-8"))
        model_cls = MODEL_CLASSES[info["name"]]
        model = model_cls(model_cls.config_class.model_validate(info["config"]))
        model.modalities_ = info["modalities"]
        with np.load(folder / "arrays.npz", allow_pickle=False) as data:
            model._restore({k: data[k] for k in data.files}, folder)
        return model


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))
