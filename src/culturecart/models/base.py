"""The one model contract: ``fit`` / ``predict_proba`` on modality data, saved and loaded as every fitted object.

Every model takes a :class:`~culturecart.models.features.ModalityData` and uses all of its
modalities (select a subset with ``data.select([...])``); unimodal ladder models fix theirs in
their config. A saved model is a folder with ``model.json`` (the header of :mod:`culturecart.persist`: kind
``model:<name>``, config, modalities) and arrays in safetensors / NumPy ``.npz`` or LightGBM's text format:
never a pickle. Folders written before the persistence contract (``model.json`` without a kind) still load.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from culturecart.models.configs import ModelConfig
from culturecart.models.features import ModalityData
from culturecart.persist import Files, Fitted, check_is_fitted, save_npz


class PurchaseModel(Fitted, ABC):
    """Predicts P(purchased = 1) for each row of modality data."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    family_base: ClassVar[bool] = True  # migrates the model folders of older versions

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            cls.kind = f"model:{cls.name}"

    def __init__(self, config: ModelConfig | None = None, **overrides: object) -> None:
        self.config = self.make_config(config, **overrides)
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

    def predict_proba(self, data: ModalityData) -> np.ndarray:
        """P(purchased = 1), shape (n,)."""
        check_is_fitted(self)
        return self._predict_proba(data)

    @abstractmethod
    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        """P(purchased = 1) of a fitted model."""

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """Arrays that, with the config, restore the fitted model."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        """Inverse of ``_state`` (and of ``_extra_files``, whose files ``files`` reads)."""

    def _extra_files(self, folder: Path) -> None:  # models with non-array state (LightGBM) write it here
        return None

    def _save_state(self, folder: Path) -> dict:
        save_npz(folder / "arrays.npz", self._state())
        self._extra_files(folder)
        return {"modalities": self.modalities_}

    @classmethod
    def _from_state(cls, config: ModelConfig, state: dict, files: Files) -> PurchaseModel:
        model = cls(config)
        model.modalities_ = state["modalities"]
        model._restore(files.npz("arrays.npz"), files)
        return model

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """``model.json`` of culturecart before the persistence contract: name, config, modalities."""
        return {"kind": f"model:{raw['name']}", "format": 0, "config": raw["config"],
                "state": {"modalities": raw["modalities"]}, "files": {}}


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))
