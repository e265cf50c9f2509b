"""Model scopes: one pooled model, one per country, one conditioned on culture, or pooled then fine-tuned.

=============  ===========================================================================================
``global``     all countries pooled; the country is an input (its one-hot in the consumer block)
``local``      one model per country, trained on that country's rows only
``culture``    all countries pooled, the country replaced by its Hofstede profile
               (:func:`~culturecart.culture.conditioning.with_culture`): predicts unseen countries too
``finetune``   the global model, then a copy per country trained further on that country's rows
=============  ===========================================================================================

Any registered model works with every scope (``finetune`` needs one that can continue training:
LightGBM or the neural models).

Example:
    >>> from culturecart.testing import tiny_data
    >>> scoped = fit_scope("culture", "logistic", tiny_data())
    >>> scoped.predict_proba(tiny_data()).shape
    (40,)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from culturecart.culture.conditioning import with_culture
from culturecart.models.base import PurchaseModel
from culturecart.models.features import ModalityData, usable_valid
from culturecart.models.registry import create_model
from culturecart.parallel import parallel_map
from culturecart.persist import Files, Fitted, check_is_fitted

SCOPES = ("global", "local", "culture", "finetune")
MIN_COUNTRY_ROWS = 50


class ScopeConfig(BaseModel):
    """A fitted scope's setting: which scope its models serve."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["global", "local", "culture", "finetune"] = "global"


class ScopedModel(Fitted):
    """Fitted model(s) of one scope; ``predict_proba`` routes each row to its country's model.

    Rows of a country without its own model (``local``, ``finetune``) get NaN (``local``) or the pooled
    model's prediction (``finetune``); ``skipped`` says which countries and why. Saved as ``scope.json`` with
    ``pooled/`` and ``country-XX/`` model folders.
    """

    kind = "scope"
    config_class = ScopeConfig

    def __init__(self, scope: str = "global", pooled: PurchaseModel | None = None,
                 per_country: dict[str, PurchaseModel] | None = None, profiles: pd.DataFrame | None = None,
                 skipped: dict[str, str] | None = None, config: ScopeConfig | None = None) -> None:
        self.config = config or self.make_config(scope=scope)
        self.pooled = pooled
        self.per_country = dict(per_country or {})
        self.profiles = profiles
        self.skipped = dict(skipped or {})

    @property
    def scope(self) -> str:
        return self.config.scope

    def is_fitted(self) -> bool:
        return self.pooled is not None or bool(self.per_country)

    def __repr__(self) -> str:
        models = (["pooled"] if self.pooled is not None else []) + sorted(self.per_country)
        return f"ScopedModel(scope={self.scope!r}, models={models})"

    def _view(self, data: ModalityData) -> ModalityData:
        return with_culture(data, self.profiles) if self.scope == "culture" else data

    def predict_proba(self, data: ModalityData) -> np.ndarray:
        check_is_fitted(self)
        view = self._view(data)
        out = np.full(data.n, np.nan)
        if self.pooled is not None:
            out = self.pooled.predict_proba(view).astype(float)
        countries = data.meta["country"].astype(object).to_numpy()
        for country, model in self.per_country.items():
            rows = np.flatnonzero(countries == country)
            if len(rows):
                out[rows] = model.predict_proba(view.rows(rows))
        return out

    def _save_state(self, folder: Path) -> dict:
        if self.pooled is not None:
            self.pooled.write_into(folder / "pooled")
        for country, model in self.per_country.items():
            model.write_into(folder / f"country-{country}")
        profiles = None if self.profiles is None else self.profiles.astype(object).where(
            self.profiles.notna(), None).reset_index(names="iso2").to_dict("records")
        return {"countries": sorted(self.per_country), "skipped": self.skipped, "profiles": profiles}

    @classmethod
    def _from_state(cls, config: ScopeConfig, state: dict, files: Files) -> ScopedModel:
        pooled = files.fitted("pooled", PurchaseModel) if files.exists("pooled") else None
        per_country = {c: files.fitted(f"country-{c}", PurchaseModel) for c in state["countries"]}
        profiles = None if state["profiles"] is None else pd.DataFrame(state["profiles"]).set_index("iso2")
        return cls(pooled=pooled, per_country=per_country, profiles=profiles, skipped=dict(state["skipped"]),
                   config=config)

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """``scope.json`` of culturecart before the persistence contract."""
        return {"kind": "scope", "format": 0, "config": {"scope": raw["scope"]},
                "state": {k: raw[k] for k in ("countries", "skipped", "profiles")}, "files": {}}


def _usable(data: ModalityData, min_rows: int) -> str | None:
    if data.n < min_rows:
        return f"{data.n} rows (< {min_rows})"
    if data.y.min() == data.y.max():
        return f"only label {int(data.y[0])} in its rows"
    return None


def _country_rows(data: ModalityData, country: str) -> np.ndarray:
    return np.flatnonzero(data.meta["country"].astype(object).to_numpy() == country)


def _fit_local(model: str, overrides: dict, train: ModalityData, valid: ModalityData | None) -> PurchaseModel:
    return create_model(model, **overrides).fit(train, usable_valid(valid))


def _fine_tune(base: PurchaseModel, train: ModalityData, valid: ModalityData | None) -> PurchaseModel:
    return base.fine_tune(train, usable_valid(valid))


def fit_scope(scope: str, model: str, train: ModalityData, valid: ModalityData | None = None, *,
              profiles: pd.DataFrame | None = None, countries: list[str] | None = None,
              min_country_rows: int = MIN_COUNTRY_ROWS, n_jobs: int = 1, backend: str = "loky",
              rows: np.ndarray | None = None, **overrides: object) -> ScopedModel:
    """Fit ``model`` (a ladder name) in ``scope`` on ``train``; ``valid`` for early stopping.

    ``countries`` limits the per-country models (default: every country in ``train``); a country with
    fewer than ``min_country_rows`` training rows or a single label is skipped, with the reason kept.
    ``rows``: fit on ``train.rows(rows)`` only; the pooled scopes (global, culture) learn their feature
    discretisation from all of ``train`` (:meth:`PurchaseModel.fit_subset`), as the points of a learning curve do.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid: {list(SCOPES)}")
    if scope in ("global", "culture"):
        view = (lambda d: with_culture(d, profiles)) if scope == "culture" else (lambda d: d)
        fresh = create_model(model, **overrides)
        valid = None if valid is None else view(valid)
        fitted = fresh.fit(view(train), valid) if rows is None else fresh.fit_subset(view(train), rows, valid)
        return ScopedModel(scope, fitted, profiles=profiles)
    if rows is not None:
        train = train.rows(rows)
    known = pd.Series(train.meta["country"]).dropna().astype(str)
    wanted = countries or sorted(known.unique())
    tasks, skipped = [], {}
    for country in wanted:
        part = train.rows(_country_rows(train, country))
        reason = _usable(part, min_country_rows)
        if reason:
            skipped[country] = reason
            continue
        part_valid = None if valid is None else valid.rows(_country_rows(valid, country))
        tasks.append((country, part, part_valid))
    if skipped:
        warnings.warn(f"{scope} scope: no own model for {skipped}", stacklevel=2)
    pooled = None
    if scope == "local":
        fitted = parallel_map(_fit_local, [(model, overrides, t, v) for _, t, v in tasks], n_jobs, backend)
    else:
        pooled = create_model(model, **overrides).fit(train, valid)
        fitted = parallel_map(_fine_tune, [(pooled, t, v) for _, t, v in tasks], n_jobs, backend)
    return ScopedModel(scope, pooled, dict(zip([c for c, _, _ in tasks], fitted, strict=True)), profiles, skipped)


def pooled_rows(train: np.ndarray, pool: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`fit_scope`'s data rows and ``rows`` for a fit on ``train`` binned on ``pool`` (sorted row indices).

    The pool and the positions of ``train`` in it; ``train`` and None without a pool or when ``train`` is all of
    it (the same fit). ``ValueError`` when ``train`` does not lie within ``pool``.

    Example:
        >>> pooled_rows(np.array([3, 7]), np.array([1, 3, 5, 7]))
        (array([1, 3, 5, 7]), array([1, 3]))
    """
    if pool is None:
        return train, None
    positions = np.searchsorted(pool, train)
    if (positions >= len(pool)).any() or not np.array_equal(pool[positions], train):
        raise ValueError("the train rows must lie within the pool (both sorted)")
    return (train, None) if len(train) == len(pool) else (pool, positions)
