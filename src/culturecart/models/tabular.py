"""Tabular baselines on the concatenated modality blocks: logistic regression and LightGBM."""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression

from culturecart.models.base import PurchaseModel
from culturecart.models.blocks import copy_rows
from culturecart.models.configs import LightGBMConfig, LogisticConfig
from culturecart.models.features import ModalityData
from culturecart.models.preprocess import Preprocessor
from culturecart.parallel import thread_budget
from culturecart.persist import Files, check_is_fitted


def _dense(pre: Preprocessor, data: ModalityData) -> np.ndarray:
    blocks, masks = pre.transform(data)
    parts = []
    for m in blocks:
        parts.append(blocks[m])
        if pre.stats[m].presence_input(masks[m]):
            parts.append(masks[m][:, None].astype(np.float32))  # presence is an explicit input
    return np.concatenate(parts, axis=1)


class LogisticModel(PurchaseModel):
    """L2-regularised logistic regression on standardised features (scikit-learn, lbfgs)."""

    name = "logistic"
    config_class = LogisticConfig
    fitted_attribute = "clf_"

    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> LogisticModel:
        data = self._inputs(train)
        self.modalities_ = data.modalities
        self.pre_ = Preprocessor(log_skewed=self.config.log_skewed).fit(data)
        cfg = self.config
        self.clf_ = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter)
        self.clf_.fit(_dense(self.pre_, data), train.y)
        return self

    def decision_function(self, data: ModalityData) -> np.ndarray:
        check_is_fitted(self)
        x = _dense(self.pre_, self._inputs(data))
        return x @ self.coef_.ravel() + self.intercept_

    @property
    def coef_(self) -> np.ndarray:
        return self.clf_.coef_

    @property
    def intercept_(self) -> float:
        return float(self.clf_.intercept_[0])

    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision_function(data)))

    def _state(self) -> dict[str, np.ndarray]:
        return {**self.pre_.to_arrays(), "coef": self.clf_.coef_, "intercept": self.clf_.intercept_,
                "classes": self.clf_.classes_}

    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        self.pre_ = Preprocessor.from_arrays(arrays)
        self.clf_ = LogisticRegression()
        self.clf_.coef_, self.clf_.intercept_, self.clf_.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]


_POOLS: OrderedDict[str, lgb.Dataset] = OrderedDict()  # binned feature blocks this process keeps, most recent last
POOL_CELLS = 2**27  # rows x features of the kept blocks (about as many bytes of bins): a dozen feature sets at the
#                     twin's size; at 1.6M events, the latest blocks of one set


def _block_key(x: np.ndarray, y: np.ndarray, params: dict, bins_of: str = "") -> str:
    """The pool key of block ``x`` (labels ``y``) under ``params``; ``bins_of``: the key of the block whose bins
    it takes. The seed picks the rows that learn the bins only when there are more than
    ``bin_construct_sample_cnt``, so below that it is left out and fits with other seeds share the block."""
    digest = hashlib.blake2b(np.ascontiguousarray(x), digest_size=16)
    digest.update(np.ascontiguousarray(y))
    every_row = len(x) <= params.get("bin_construct_sample_cnt", 200_000)
    keyed = {k: v for k, v in params.items() if not (every_row and k == "seed")}
    digest.update(json.dumps([bins_of, x.shape, keyed], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def binned_block(x: np.ndarray, y: np.ndarray, params: dict,
                 bins_of: tuple[str, lgb.Dataset] | None = None) -> tuple[str, lgb.Dataset]:
    """``(key, Dataset)``: LightGBM's binned Dataset of one feature block ``x`` (labels ``y``), constructed once per
    process and kept (the most recent blocks, ``POOL_CELLS`` rows x features at most, the latest always), keyed by
    the bytes of ``x`` and ``y`` and ``params``.

    ``bins_of``: the ``(key, Dataset)`` of a training block whose bins ``x`` takes (a validation block).
    """
    key = _block_key(x, y, params, bins_of[0] if bins_of else "")
    if key not in _POOLS:
        reference = bins_of[1] if bins_of else None
        _POOLS[key] = lgb.Dataset(x, y, reference=reference, params=dict(params), free_raw_data=True).construct()
        while len(_POOLS) > 1 and sum(d.num_data() * d.num_feature() for d in _POOLS.values()) > POOL_CELLS:
            _POOLS.popitem(last=False)
    _POOLS.move_to_end(key)
    return key, _POOLS[key]


def joined_blocks(blocks: list[lgb.Dataset], names: list[str], rows: np.ndarray | None = None) -> lgb.Dataset:
    """One Dataset of binned ``blocks`` side by side (``Dataset.add_features_from``), on ``rows`` of them or all.

    LightGBM learns each feature's bins on its own, and its feature bundling only packs the storage, so trees
    grown on joined blocks equal those grown on one matrix of the same columns (tested): a grid over modality
    subsets bins each modality once instead of once per subset, and the points of a learning curve bin their
    pool once (``rows``), as ``lightgbm.cv`` does for its folds.
    """
    every = range(blocks[0].num_data()) if rows is None else rows
    out = blocks[0].subset(every).construct()  # a copy: the kept block stays as it is
    with warnings.catch_warnings():  # joining binned blocks has no raw data or categorical columns to carry
        warnings.filterwarnings("ignore", message="(Cannot add features|Resetting categorical)")
        for block in blocks[1:]:
            out.add_features_from(block if rows is None else block.subset(rows).construct())
    return out.set_feature_name(names)


def _joinable(blocks: list[lgb.Dataset]) -> bool:
    """Whether validation blocks binned on these training blocks, joined, pass LightGBM's alignment check: it
    refuses them when two or more of the joined blocks hold a feature that cannot split (a single bin: constant
    on the training rows, as embedding columns of a handful of items are). Otherwise the validation rows are
    binned on the joined training set (the same bins, the same trees; only slower)."""
    with_trivial = sum(any(b.feature_num_bin(i) <= 1 for i in range(b.num_feature())) for b in blocks)
    return with_trivial < 2


def _fill(d: ModalityData, m: str, out: np.ndarray) -> None:
    """``out[:] =`` modality ``m``'s block as float32, NaN on the rows without it (LightGBM routes NaN itself)."""
    copy_rows(d.blocks[m], out)
    out[~d.present[m]] = np.nan


class LightGBMModel(PurchaseModel):
    """Gradient-boosted trees (Ke et al. 2017, NeurIPS) on the raw blocks; LightGBM routes NaN itself.

    Early stopping on the validation rows when given. ``contributions`` returns TreeSHAP values
    (Lundberg et al. 2020, Nature Machine Intelligence) from LightGBM's own ``pred_contrib``.
    """

    name = "lightgbm"
    config_class = LightGBMConfig
    fitted_attribute = "booster_"

    def _matrix(self, data: ModalityData) -> np.ndarray:
        """The blocks side by side in one float32 array, NaN where a row lacks the modality (one copy)."""
        d = self._inputs(data)
        out = np.empty((d.n, sum(d.blocks[m].shape[1] for m in d.modalities)), np.float32)
        start = 0
        for m in d.modalities:
            width = d.blocks[m].shape[1]
            _fill(d, m, out[:, start:start + width])
            start += width
        return out

    def _blocks(self, data: ModalityData) -> Iterator[np.ndarray]:
        """:meth:`_matrix`'s columns, one float32 array per modality (modalities without columns left out),
        made one at a time: a caller that bins each and lets it go never holds the whole float matrix (a
        gigabyte at 1.6M events)."""
        d = self._inputs(data)
        for m in d.modalities:
            if d.blocks[m].shape[1]:
                block = np.empty((d.n, d.blocks[m].shape[1]), np.float32)
                _fill(d, m, block)
                yield block

    def feature_modalities(self) -> list[str]:
        """The modality of each feature column, in order."""
        return [m for m in self.modalities_ for _ in range(self.dims_[m])]

    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> LightGBMModel:
        self._set_columns(train)
        self.booster_ = self._train(train, valid, self.config.learning_rate, self.config.n_estimators)
        return self

    def fit_subset(self, pool: ModalityData, rows: np.ndarray, valid: ModalityData | None = None) -> LightGBMModel:
        """Fit on ``pool.rows(rows)`` with the histogram bins learned from all of ``pool`` (``Dataset.subset``).

        This process keeps the pool's binned blocks (:func:`binned_block`), so the next fit on another subset of
        the same pool skips learning the bins, a third of a fit's time on the twin's data.
        """
        self._set_columns(pool)
        self.booster_ = self._train(pool, valid, self.config.learning_rate, self.config.n_estimators,
                                    rows=np.asarray(rows))
        return self

    def _set_columns(self, train: ModalityData) -> None:
        data = self._inputs(train)
        self.modalities_ = data.modalities
        self.dims_ = {m: data.blocks[m].shape[1] for m in data.modalities}
        self.feature_names_ = [f"{m}:{n}" for m in data.modalities for n in data.names[m]]

    def _params(self, learning_rate: float) -> dict:
        """LightGBM's parameters for a fit at ``learning_rate`` (validation metric added by ``_train``)."""
        cfg = self.config
        return {"objective": "binary", "learning_rate": learning_rate, "num_leaves": cfg.num_leaves,
                "min_child_samples": cfg.min_child_samples, "subsample": cfg.subsample, "subsample_freq": 1,
                "colsample_bytree": cfg.colsample_bytree, "reg_lambda": cfg.reg_lambda, "seed": cfg.seed,
                "deterministic": True, "force_row_wise": True, "num_threads": thread_budget(cfg.n_jobs), "verbosity": -1}

    def _train(self, train: ModalityData, valid: ModalityData | None, learning_rate: float, rounds: int,
               init_model: lgb.Booster | None = None, rows: np.ndarray | None = None) -> lgb.Booster:
        """Boost on ``train`` (with ``rows``: on those rows of it, binned on all of it)."""
        cfg = self.config
        params = self._params(learning_rate)
        names = [f"f{i}" for i in range(len(self.feature_names_))]
        callbacks, valid_sets = [], []
        has_valid = valid is not None and valid.y.min() != valid.y.max()
        if init_model is not None:  # boosting from the model's scores needs the raw rows
            dtrain = lgb.Dataset(self._matrix(train), train.y, feature_name=names, free_raw_data=True)
            if has_valid:
                valid_sets = [lgb.Dataset(self._matrix(valid), valid.y, reference=dtrain)]
        else:
            blocks = [binned_block(x, train.y, params) for x in self._blocks(train)]
            dtrain = joined_blocks([b for _, b in blocks], names, rows)
            if has_valid and _joinable([b for _, b in blocks]):
                valid_sets = [joined_blocks([binned_block(x, valid.y, params, bins_of)[1]
                                             for x, bins_of in zip(self._blocks(valid), blocks, strict=True)], names)]
            elif has_valid:  # the same bins, from the joined training set itself
                valid_sets = [lgb.Dataset(self._matrix(valid), valid.y, reference=dtrain)]
        if has_valid:
            callbacks = [lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)]
            params["metric"] = "auc"
        try:
            return lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks,
                             init_model=init_model, keep_training_booster=init_model is not None)
        except lgb.basic.LightGBMError as err:
            if not (valid_sets and "different bin mappers" in str(err)):
                raise
            # Another case of _joinable's: the validation rows binned on the joined training set itself agree by
            # construction (the same bins: the same trees).
            valid_sets = [lgb.Dataset(self._matrix(valid), valid.y, reference=dtrain)]
            return lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks,
                             init_model=init_model, keep_training_booster=init_model is not None)

    def fine_tune(self, train: ModalityData, valid: ModalityData | None = None) -> LightGBMModel:
        """Add up to ``finetune_rounds`` trees fitted on ``train`` (boosting from the current scores)."""
        tuned = copy.copy(self)
        base = lgb.Booster(model_str=self.booster_.model_to_string(num_iteration=self.booster_.best_iteration or None))
        tuned.booster_ = self._train(train, valid, self.config.finetune_learning_rate, self.config.finetune_rounds,
                                     init_model=base)
        return tuned

    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        return self.booster_.predict(self._matrix(data), num_iteration=self.booster_.best_iteration or None)

    def contributions(self, data: ModalityData) -> np.ndarray:
        """TreeSHAP contributions in log-odds, shape (n, features + 1); the last column is the bias."""
        check_is_fitted(self)
        return self.booster_.predict(self._matrix(data), pred_contrib=True,
                                     num_iteration=self.booster_.best_iteration or None)

    def _state(self) -> dict[str, np.ndarray]:
        return {"dims": np.array([self.dims_[m] for m in self.modalities_]),
                "feature_names": np.array(self.feature_names_)}

    def _extra_files(self, folder: Path) -> None:
        (folder / "booster.txt").write_text(self.booster_.model_to_string(), encoding="utf-8")

    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        self.dims_ = dict(zip(self.modalities_, arrays["dims"].tolist(), strict=True))
        self.feature_names_ = arrays["feature_names"].tolist()
        self.booster_ = files.lightgbm("booster.txt")
