"""Late fusion: one unimodal model per modality, stacked by a logistic regression on their logits.

The stacker is fitted on validation rows (never the rows the unimodal models were trained on), as
in stacked generalisation (Wolpert 1992, Neural Networks 5:241-259). ``base`` is the model for every
modality; ``bases`` overrides it per modality (e.g. logistic regression on text embeddings, LightGBM on
tabular blocks), each as ``{"model": name, **options}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from culturecart.models.base import PurchaseModel, logit
from culturecart.models.configs import LateFusionConfig
from culturecart.models.features import ModalityData
from culturecart.models.neural import split_by_user
from culturecart.persist import Files


class LateFusionModel(PurchaseModel):
    name = "late_fusion"
    config_class = LateFusionConfig
    fitted_attribute = "stacker_"

    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> LateFusionModel:
        from culturecart.models.registry import create_model

        if valid is None:
            tr, va = split_by_user(train, self.config.valid_share, self.config.seed)
            train, valid = train.rows(tr), train.rows(va)
        data = self._inputs(train)
        self.modalities_ = data.modalities
        self.base_ = {}
        for m in self.modalities_:
            spec = dict(self.config.bases.get(m, {"model": self.config.base, **self.config.base_options}))
            self.base_[m] = create_model(spec.pop("model"), modalities=[m], seed=self.config.seed,
                                         **spec).fit(train, valid)
        self.stacker_ = LogisticRegression(C=1.0, max_iter=1000).fit(self._stack(valid), valid.y)
        return self

    def _stack(self, data: ModalityData) -> np.ndarray:
        return np.column_stack([logit(self.base_[m].predict_proba(data)) for m in self.modalities_])

    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        return self.stacker_.predict_proba(self._stack(data))[:, 1]

    def _state(self) -> dict[str, np.ndarray]:
        return {"coef": self.stacker_.coef_, "intercept": self.stacker_.intercept_, "classes": self.stacker_.classes_}

    def _extra_files(self, folder: Path) -> None:
        for m, model in self.base_.items():
            model.write_into(folder / f"base_{m}")

    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        self.base_ = {m: files.fitted(f"base_{m}", PurchaseModel) for m in self.modalities_}
        self.stacker_ = LogisticRegression()
        self.stacker_.coef_, self.stacker_.intercept_ = arrays["coef"], arrays["intercept"]
        self.stacker_.classes_ = arrays["classes"]
