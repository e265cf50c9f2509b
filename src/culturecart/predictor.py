"""``PurchasePredictor``: fit once, score anywhere. Featurizer state + model(s) + encoder names, one folder.

A predictor learns everything it needs about the columns on its training data (one-hot levels, embedding
projections, the users' purchase history; scalers live in the models) and keeps it. Scoring fits nothing: a
new dataset in the canonical schema, with unseen users, items, categories or countries, is turned into the
same features with the saved state and scored by the saved model(s), in chunks of bounded size.

Example:
    >>> from culturecart.data.simulate import SimulationConfig, simulate_marketplace
    >>> train = simulate_marketplace(SimulationConfig(n_users=120, n_products=30, countries=["KR", "US"], seed=1))
    >>> new = simulate_marketplace(SimulationConfig(n_users=40, n_products=30, countries=["KR", "US"], seed=2))
    >>> fast = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}
    >>> model = PurchasePredictor("lightgbm", encoders=fast, n_estimators=30).fit(train)
    >>> p = model.predict_proba(new)
    >>> p.shape == (len(new.events),) and bool(((p > 0) & (p < 1)).all())
    True

The folder (``save`` / ``load``): ``predictor.json`` (format and schema versions, the culturecart version,
model name, scope, options, encoder names and versions, feature names, the training data fingerprint),
``featurizer.npz`` (arrays only) and ``model/`` (the scope's model(s): ``pooled/``, ``country-XX/``). No
pickles anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from culturecart import __version__
from culturecart.atomic import atomic_dir, atomic_write_text
from culturecart.culture.scopes import SCOPES, ScopedModel, fit_scope
from culturecart.data.dataset import Dataset
from culturecart.data.hofstede import shipped_hofstede
from culturecart.data.validate import require_valid
from culturecart.encoders import EncodersConfig
from culturecart.encoders.dataset import encode_dataset
from culturecart.errors import InvalidInputError, MissingInputError, UsageError
from culturecart.evaluate.bootstrap import bootstrap_ci
from culturecart.models.features import ModalityData
from culturecart.models.featurizer import EMBEDDING_KEYS, Featurizer
from culturecart.models.registry import model_spec, needs_raw_text

PREDICTOR_FORMAT = 1
SCHEMA_VERSION = 1  # the canonical data model (culturecart.data.schema)
KEY_COLUMNS = ("session_id", "user_id", "item_id")
EVALUATE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")


class PredictorConfig(BaseModel):
    """What a predictor is: the ladder model, its options, modalities, scope, encoders and featurizer settings."""

    model_config = ConfigDict(extra="forbid")

    model: str = "lightgbm"
    modalities: list[str] | None = None
    scope: str = Field("global", description="global, culture (Hofstede-conditioned), local or finetune")
    encoders: EncodersConfig = Field(default_factory=EncodersConfig)
    embedding_dim: int | None = Field(32, ge=2)
    max_levels: int = Field(30, ge=1)
    projection: str = Field("train", description="fit embedding projections on the training items ('train') "
                                                 "or on the whole item catalogue ('catalogue')")
    valid_share: float = Field(0.1, ge=0, lt=1, description="users held out for early stopping when no "
                                                             "validation data is given (0: none, no early stopping)")
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict, description="the model's config overrides")


def _fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    for name in ds.tables():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(ds.table(name).astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:20]


def _as_dataset(data: Dataset | str | Path, purpose: str) -> Dataset:
    return require_valid(data, purpose=purpose, check_images=False)  # unreadable images are masked and counted


class PurchasePredictor:
    """Fit on a dataset, then predict, evaluate and explain any dataset in the canonical schema.

    ``model`` is any ladder name (``lightgbm``, ``transformer``, ``logistic``, ...); ``modalities`` restricts
    the inputs; ``encoders`` is an :class:`~culturecart.encoders.EncodersConfig` (or its dict); other
    keyword arguments are the model's own options (``n_estimators=300``, ``epochs=5``...).
    """

    def __init__(self, model: str = "lightgbm", modalities: list[str] | None = None,
                 encoders: EncodersConfig | dict | None = None, scope: str = "global",
                 profiles: pd.DataFrame | None = None, config: PredictorConfig | None = None, **options: Any) -> None:
        if config is None:
            try:
                config = PredictorConfig(model=model_spec(model).name, modalities=modalities, scope=scope,
                                         encoders=encoders or EncodersConfig(), options=options)
            except KeyError as err:
                raise UsageError(str(err.args[0])) from None
        if config.scope not in SCOPES:
            raise UsageError(f"scope must be one of {list(SCOPES)}, not {config.scope!r}")
        if config.projection not in ("train", "catalogue"):
            raise UsageError(f"projection must be 'train' or 'catalogue', not {config.projection!r}")
        self.config = config
        self.profiles = profiles
        self.featurizer_: Featurizer | None = None
        self.model_: ScopedModel | None = None
        self.info_: dict[str, Any] = {}

    # ---- fit ----
    def fit(self, dataset: Dataset | str | Path, valid: Dataset | str | Path | None = None) -> PurchasePredictor:
        """Fit the featurizer on ``dataset``'s rows (never on ``valid``), then the model.

        Without ``valid``, ``valid_share`` of the users are held out of the model's training rows for early
        stopping and calibration.
        """
        c = self.config
        ds = _as_dataset(dataset, "study")
        emb = encode_dataset(ds, c.encoders, progress=False, keys=EMBEDDING_KEYS)
        keep_text = needs_raw_text([c.model])
        self.featurizer_ = Featurizer(max_levels=c.max_levels, embedding_dim=c.embedding_dim).fit(
            ds, emb, projection=c.projection)
        data = self.featurizer_.transform(ds, emb, keep_text=keep_text)
        if valid is None:
            held = _held_out_users(data.meta["user_id"].to_numpy(), c.valid_share, c.seed) if c.valid_share > 0 \
                else np.zeros(data.n, bool)
            train, holdout = (data.rows(~held), data.rows(held)) if held.any() and not held.all() else (data, None)
        else:
            vds = _as_dataset(valid, "study")
            holdout_emb = encode_dataset(vds, c.encoders, progress=False, keys=EMBEDDING_KEYS)
            train, holdout = data, self.featurizer_.transform(vds, holdout_emb, keep_text=keep_text)
        options = dict(c.options)
        if c.modalities is not None and not model_spec(c.model).defaults.get("modalities"):
            missing = [m for m in c.modalities if m not in data.modalities]
            if missing:
                raise InvalidInputError(f"modalities {missing} are not in the training data; it has "
                                        f"{data.modalities}")
            options["modalities"] = list(c.modalities)
        profiles = self._profiles(data)
        self.model_ = fit_scope(c.scope, c.model, train, holdout, profiles=profiles, seed=c.seed, **options)
        self.info_ = {"feature_names": data.names, "modalities": data.modalities, "encoders": self.featurizer_.encoders,
                      "training_fingerprint": _fingerprint(ds), "training_rows": int(data.n),
                      "keep_text": keep_text}
        return self

    def _profiles(self, data: ModalityData) -> pd.DataFrame | None:
        if self.config.scope != "culture":
            return self.profiles
        base = shipped_hofstede()
        if self.profiles is not None:
            base = pd.concat([self.profiles, base[~base.index.isin(self.profiles.index)]])
        return base

    # ---- scoring ----
    def _fitted(self) -> tuple[Featurizer, ScopedModel]:
        if self.featurizer_ is None or self.model_ is None:
            raise UsageError("this predictor is not fitted: call fit() or PurchasePredictor.load()")
        return self.featurizer_, self.model_

    def iter_features(self, dataset: Dataset | str | Path, chunk_size: int = 100_000,
                      ) -> tuple[Dataset, int, Any]:
        """The validated dataset, its number of events and a generator of (row positions, features) chunks."""
        ds = _as_dataset(dataset, "score")
        return (ds, *self._chunks(ds, chunk_size))

    def _chunks(self, ds: Dataset, chunk_size: int) -> tuple[int, Any]:
        featurizer, _ = self._fitted()
        if chunk_size < 1:
            raise UsageError(f"chunk_size must be at least 1, not {chunk_size}")
        emb = encode_dataset(ds, self.config.encoders, progress=False, keys=EMBEDDING_KEYS)
        events = ds.table("events").reset_index(drop=True)
        history = featurizer.history_for(events)  # over the whole table: chunks see the same history
        n = len(events)

        def chunks():
            for start in range(0, n, chunk_size):
                rows = np.arange(start, min(start + chunk_size, n))
                yield rows, featurizer.transform(ds, emb, keep_text=self.info_.get("keep_text", False),
                                                 history=history, rows=rows)

        return n, chunks()

    def _predict(self, ds: Dataset, chunk_size: int, progress: Callable[[int, int], None] | None) -> np.ndarray:
        _, model = self._fitted()
        n, chunks = self._chunks(ds, chunk_size)
        out = np.empty(n, np.float64)
        for rows, data in chunks:
            out[rows] = model.predict_proba(data)
            if progress:
                progress(len(rows), n)
        return out

    def predict_proba(self, dataset: Dataset | str | Path, chunk_size: int = 100_000,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """P(purchased = 1) for every event of ``dataset``, in its row order, scored ``chunk_size`` rows at a time.

        ``progress(rows_done_now, total)`` is called after each chunk.
        """
        return self._predict(_as_dataset(dataset, "score"), chunk_size, progress)

    def score(self, dataset: Dataset | str | Path, chunk_size: int = 100_000,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
        """The event key columns (those present) and ``p_purchase``, one row per event."""
        ds = _as_dataset(dataset, "score")
        p = self._predict(ds, chunk_size, progress)
        events = ds.table("events").reset_index(drop=True)
        keys = events[[c for c in KEY_COLUMNS if c in events.columns]].astype(str)
        return keys.assign(p_purchase=p)

    def evaluate(self, dataset: Dataset | str | Path, metrics: tuple[str, ...] = EVALUATE_METRICS,
                 n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
        """Metrics on a labelled dataset, each with a user-cluster bootstrap CI: metric, value, ci_low, ci_high."""
        ds = _as_dataset(dataset, "study")
        p = self._predict(ds, 100_000, None)
        events = ds.table("events").reset_index(drop=True)
        scored = ~np.isnan(p)  # a local-scope predictor has no model for countries it never saw
        if not scored.any():
            raise InvalidInputError("no event of this dataset could be scored (a local-scope predictor only scores "
                                    "the countries it has models for)")
        y = events["purchased"].to_numpy(np.int64)[scored]
        clusters = events["user_id"].astype(str).to_numpy()[scored] if "user_id" in events else None
        groups = events["session_id"].astype(str).to_numpy()[scored]
        rows = []
        for metric in metrics:
            ci = bootstrap_ci(metric, y, p[scored], groups=groups, clusters=clusters, n_boot=n_boot, seed=seed)
            rows.append({"metric": metric, "value": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                         "rows": int(scored.sum()), "rows_unscored": int((~scored).sum())})
        return pd.DataFrame(rows)

    def explain(self, dataset: Dataset | str | Path, chunk_size: int = 100_000) -> pd.DataFrame:
        """Per event, each modality's contribution to the log-odds.

        LightGBM (global scope): exact TreeSHAP summed over the modality's features (they add up, with
        ``bias``, to the model's raw score). Other models and scopes: occlusion, the drop in log-odds when the
        modality is masked for that event (the model sees it as absent, as for a missing image).
        """
        from culturecart.models.base import logit

        _, model = self._fitted()
        _, _, chunks = self.iter_features(dataset, chunk_size)
        parts = []
        for _, data in chunks:
            pooled = model.pooled
            if model.scope == "global" and pooled is not None and hasattr(pooled, "contributions"):
                contrib = pooled.contributions(data)
                mods = np.array(pooled.feature_modalities())
                frame = pd.DataFrame({m: contrib[:, :-1][:, mods == m].sum(axis=1) for m in pooled.modalities_})
                frame["bias"] = contrib[:, -1]
            else:
                full = logit(model.predict_proba(data))
                frame = pd.DataFrame({m: full - logit(model.predict_proba(_masked(data, m)))
                                      for m in data.modalities})
            parts.append(pd.concat([data.meta[list(KEY_COLUMNS)].reset_index(drop=True), frame], axis=1))
        return pd.concat(parts, ignore_index=True)

    # ---- persistence ----
    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the predictor folder atomically (a non-empty folder needs ``overwrite``)."""
        featurizer, model = self._fitted()
        return write_predictor(folder, self.config, featurizer, model.save, self.info_, overwrite=overwrite)

    @classmethod
    def load(cls, folder: str | Path) -> PurchasePredictor:
        """Read a predictor folder; refuses folders of another format or schema version, names damaged files."""
        folder = Path(folder)
        if not folder.is_dir():
            raise MissingInputError(f"predictor folder {folder} "
                                    + ("is a file, not a folder" if folder.exists() else "does not exist"))
        if not (folder / "predictor.json").is_file():
            raise InvalidInputError(f"{folder} holds no predictor (predictor.json); fit one with `culturecart fit`")
        part = "predictor.json"
        try:
            info = json.loads((folder / "predictor.json").read_text("utf-8"))
            if info.get("format") != PREDICTOR_FORMAT or info.get("schema_version") != SCHEMA_VERSION:
                raise InvalidInputError(
                    f"predictor folder {folder} was written by culturecart {info.get('culturecart', '?')} (format "
                    f"{info.get('format')}, schema {info.get('schema_version')}); this version reads format "
                    f"{PREDICTOR_FORMAT}, schema {SCHEMA_VERSION}: fit the model again")
            predictor = cls(config=PredictorConfig.model_validate(info["config"]))
            predictor.info_ = {k: v for k, v in info.items()
                               if k not in ("format", "schema_version", "culturecart", "config")}
            part = "featurizer.npz"
            with np.load(folder / "featurizer.npz", allow_pickle=False) as arrays:
                predictor.featurizer_ = Featurizer.from_arrays({k: arrays[k] for k in arrays.files})
            part = "model/"
            predictor.model_ = ScopedModel.load(folder / "model")
            predictor.profiles = predictor.model_.profiles
        except InvalidInputError:
            raise
        except Exception as exc:  # any failure to rebuild the predictor is damage to its files
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise InvalidInputError(f"predictor folder {folder} is damaged or incomplete ({part}): {detail}") from exc
        return predictor


def write_predictor(folder: str | Path, config: PredictorConfig, featurizer: Featurizer,
                    write_model: Callable[[Path], object], info: dict[str, Any], overwrite: bool = False) -> Path:
    """Write a predictor folder atomically from its parts; ``write_model(path)`` writes the ``model/`` folder.

    ``PurchasePredictor.save`` and the study (whose units return their models' files) share this one layout.
    """
    folder = Path(folder)
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        with open(tmp / "featurizer.npz", "wb") as fh:
            np.savez(fh, **featurizer.to_arrays())
        write_model(tmp / "model")
        atomic_write_text(tmp / "predictor.json", json.dumps({
            "format": PREDICTOR_FORMAT, "schema_version": SCHEMA_VERSION, "culturecart": __version__,
            "config": config.model_dump(mode="json"), **info}, indent=2, ensure_ascii=False, default=str))
    return folder


def _held_out_users(users: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Rows of a random ``share`` of the users (at least one user when there are three or more)."""
    unique = np.unique(users.astype(str))
    if len(unique) < 3:
        return np.zeros(len(users), bool)
    rng = np.random.default_rng(seed)
    held = rng.choice(unique, size=max(1, int(round(share * len(unique)))), replace=False)
    return np.isin(users.astype(str), held)


def _masked(data: ModalityData, modality: str) -> ModalityData:
    present = dict(data.present)
    present[modality] = np.zeros(data.n, bool)
    blocks = dict(data.blocks)
    if data.kinds.get(modality) == "tabular":  # tabular models read values, not the mask: make them missing
        blocks[modality] = np.full_like(blocks[modality], np.nan)
    return replace(data, present=present, blocks=blocks)
