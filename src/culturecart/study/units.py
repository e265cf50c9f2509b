"""The functions the study's units run on its workers (module level, so that worker processes import them).

Each computes and returns (a value, or an :class:`~culturecart.study.store.Artifact` with a fitted model's files as
bytes); none writes to the driver's disk, so they run on a Dask cluster too. :func:`fit_unit` builds the unit of a
scope's fit, keyed by what it computes, not by which stage asks.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.culture.recovery import user_bootstrap
from culturecart.culture.rq3 import score_scopes
from culturecart.culture.scopes import ScopedModel, fit_scope, pooled_rows
from culturecart.culture.sensitivity import country_logit, pd_sensitivity, sensitivity_design
from culturecart.data.dataset import Dataset
from culturecart.evaluate.grid import fit_predict, score_grid
from culturecart.evaluate.splits import Split
from culturecart.explain.attributions import attention_by_modality, treeshap_by_modality
from culturecart.models.base import PurchaseModel
from culturecart.models.features import ModalityData, usable_valid
from culturecart.persist import load
from culturecart.study.store import Artifact, Unit, folder_files, write_files


def _model_files(scoped: ScopedModel) -> dict[str, bytes]:
    """A fitted scope's model folder as bytes: the worker saves it locally and sends it back to the driver."""
    with tempfile.TemporaryDirectory() as tmp:
        scoped.save(Path(tmp) / "model")
        return folder_files(Path(tmp) / "model")


def rq1_unit(name: str, subset: tuple[str, ...], data: ModalityData, split: Split, seed: int, options: dict,
              keep: bool) -> np.ndarray | Artifact:
    p, model = fit_predict(name, subset, data, split, seed=seed, options=options)
    p = np.asarray(p, float)
    return Artifact(p, _model_files(ScopedModel("global", model))) if keep else p


def fit_and_score(scope: str, model: str, data: ModalityData, train: np.ndarray, valid: np.ndarray, test: np.ndarray,
              profiles: pd.DataFrame, seed: int, options: dict, pool: np.ndarray | None = None) -> Artifact:
    # Binned on the pool even when train is all of it: the same fit, and this worker keeps the binned pool
    fit_rows, rows = (train, None) if pool is None else (pool, np.searchsorted(pool, train))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipped countries are reported by the scoring
        fitted = fit_scope(scope, model, data.rows(fit_rows), usable_valid(data.rows(valid)), profiles=profiles,
                           seed=seed, rows=rows, **options)
    return Artifact(np.asarray(fitted.predict_proba(data.rows(test)), float), _model_files(fitted))


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()[:20]


def fit_unit(stage: str, name: str, scope: str, model: str, data: ModalityData, train: np.ndarray,
             valid: np.ndarray, test: np.ndarray, profiles: pd.DataFrame, seed: int, options: dict, base: dict,
             cost: float, pool: np.ndarray | None = None) -> Unit:
    """A scope fitted on these rows and scored on ``test``, keyed by what it computes, not by who asks:
    RQ3's global and culture scopes are also RQ5's full-data runs, and are computed once.

    ``pool``: sorted rows that hold ``train`` (sorted) and that the features are binned on (``fit_scope``'s
    ``rows``); when ``train`` is all of it, the fit is the same as without one, and so is the unit's key.
    """
    payload = {**base, "scope": scope, "model": model, "options": options, "seed": seed,
               "rows": [_digest(train), _digest(valid), _digest(test)]}
    if scope == "culture":  # the only scope that reads the profiles (a user's Hofstede file included)
        payload["profiles"] = profiles.to_dict()
    if pooled_rows(train, pool)[1] is not None:
        payload["bins_from"] = _digest(pool)
    return Unit(stage, name, payload, fit_and_score, (scope, model, data, train, valid, test, profiles, seed, options,
                                                  pool), artifact=True, cost=cost, shared="fit")


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def from_records(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def rq4_unit(ds: Dataset, emb: dict, rows: str, features: list[str] | None, min_rows: int, seed: int,
              n_boot: int) -> dict:
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the iterative fit's last digits would otherwise depend on the worker's thread budget.
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            design = sensitivity_design(ds, emb, rows=rows, features=features, seed=seed)
            res = country_logit(design, min_rows=min_rows)
        except ValueError as err:  # not estimable on this data: a result to report, not a failure
            return {"error": str(err)}
        boot = user_bootstrap(design, res, n_boot=n_boot, seed=seed)
    return {"effects": records(res.effects), "heterogeneity": records(res.heterogeneity),
            "intercepts": {k: float(v) for k, v in res.intercepts.items()}, "countries": res.countries,
            "bootstrap": boot.to_dict("list"), "warnings": [str(w.message) for w in caught]}


def _pooled_model(files: dict[str, bytes]) -> PurchaseModel:
    """The pooled model of a unit's model files (sent as bytes: a worker need not see the driver's disk)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_files(Path(tmp) / "model", files)
        return load(Path(tmp) / "model" / "pooled", expect=PurchaseModel)


def pd_unit(model_files: dict[str, bytes], data: ModalityData, n_boot: int, seed: int) -> pd.DataFrame:
    return pd_sensitivity(_pooled_model(model_files), data, n_boot=n_boot, seed=seed)


def explain_unit(kind: str, model_files: dict[str, bytes], data: ModalityData) -> pd.DataFrame:
    model = _pooled_model(model_files)
    shares = treeshap_by_modality(model, data) if kind == "treeshap" else attention_by_modality(model, data)
    return shares.rename_axis("country").reset_index()


def score_table(predictions, test, metrics, n_boot, seed) -> pd.DataFrame:
    return score_grid(predictions, test, metrics, n_boot, seed).table


def score_rq3(preds, test, model, c, seed) -> dict:
    result = score_scopes(preds, test, model, metrics=c.metrics, n_boot=c.n_boot, seed=seed)
    return {"table": records(result.table), "winners": records(result.winners)}
