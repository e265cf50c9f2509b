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

The folder (``save`` / ``load``, the contract of :mod:`culturecart.persist`): ``predictor.json`` (kind, format and
schema versions, the culturecart version, model name, scope, options, encoder names and versions, feature names, the
training data fingerprint), ``featurizer/`` (arrays only) and ``model/`` (the scope's model(s): ``pooled/``,
``country-XX/``). No pickles anywhere. Folders of the previous format (``featurizer.npz`` beside ``model/``) load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from culturecart.atomic import atomic_dir
from culturecart.culture.scopes import SCOPES, ScopedModel, fit_scope
from culturecart.data.dataset import Dataset
from culturecart.data.frame import Roles, make_roles
from culturecart.data.hofstede import shipped_hofstede
from culturecart.data.validate import require_valid
from culturecart.encoders import EncodersConfig
from culturecart.encoders.dataset import encode_dataset
from culturecart.errors import InvalidInputError, UsageError
from culturecart.evaluate.bootstrap import bootstrap_ci
from culturecart.models.features import ModalityData
from culturecart.models.featurizer import EMBEDDING_KEYS, Featurizer
from culturecart.models.registry import check_options, model_spec, needs_raw_text
from culturecart.persist import Files, Fitted, check_is_fitted, write_parts
from culturecart.scoring import DEFAULT_BATCH_ROWS, KEY_COLUMNS, ScoredBatch, score_to_folder

PREDICTOR_FORMAT = 2  # 1: featurizer.npz beside model/ (still read)
SCHEMA_VERSION = 1  # the canonical data model (culturecart.data.schema)
FIT_STEPS = 4  # the calls PurchasePredictor.fit makes to its progress callback
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
    roles: Roles | None = Field(None, description="the columns of a flat table (fit, predict and evaluate take a "
                                                  "DataFrame with them): culturecart.data.frame.Roles")

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return model_spec(value).name  # an unknown name lists the models

    @model_validator(mode="after")
    def _options(self) -> PredictorConfig:
        check_options(self.model, self.options)  # a misspelt option is refused here, before any work
        return self


def _fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    for name in ds.tables():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(ds.table(name).astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:20]


def _as_dataset(data: Dataset | str | Path, purpose: str) -> Dataset:
    return require_valid(data, purpose=purpose, check_images=False)  # unreadable images are masked and counted


_PREDICTOR_KEYS = frozenset(PredictorConfig.model_fields) - {"options", "model", "modalities", "scope", "encoders",
                                                              "roles"}
_ROLE_KEYS = frozenset(Roles.model_fields)
Data = Dataset | str | Path | pd.DataFrame


class PurchasePredictor(Fitted):
    """Fit on a dataset, then predict, evaluate and explain any dataset in the canonical schema.

    ``model`` is any ladder name (``lightgbm``, ``transformer``, ``logistic``, ...); ``modalities`` restricts
    the inputs; ``encoders`` is an :class:`~culturecart.encoders.EncodersConfig` (or its dict); keyword arguments
    that are :class:`PredictorConfig` settings (``embedding_dim``, ``max_levels``, ``projection``, ``valid_share``,
    ``seed``) set those, the others are the model's own options (``n_estimators=300``, ``epochs=5``...), checked
    now. Or pass a whole ``config`` (and nothing else).

    With the columns' roles (``label=``, ``item=``, ``user=``, ``country=``, ``offer=[...]``... as for
    :meth:`Dataset.from_frame <culturecart.data.dataset.Dataset.from_frame>`), ``fit``, ``predict_proba``,
    ``evaluate`` and ``explain`` also take one flat pandas DataFrame; ``predict_proba`` then returns a Series
    aligned with its index.

    Example:
        >>> from culturecart.testing import flat_table
        >>> df = flat_table()
        >>> model = PurchasePredictor(label="bought", user="customer", item="sku", country="nation",
        ...                           offer=["price", "discount"], n_estimators=20).fit(df)
        >>> p = model.predict_proba(df)
        >>> p.index.equals(df.index), round(float(model.evaluate(df).set_index("metric").loc["roc_auc", "value"]), 1) > 0.5
        (True, True)
    """

    kind = "predictor"
    format = PREDICTOR_FORMAT
    config_class = PredictorConfig
    fitted_attribute = "model_"

    def __init__(self, model: str = "lightgbm", modalities: list[str] | None = None,
                 encoders: EncodersConfig | dict | None = None, scope: str = "global",
                 profiles: pd.DataFrame | None = None, config: PredictorConfig | None = None, **options: Any) -> None:
        if config is None:
            settings = {k: options.pop(k) for k in list(options) if k in _PREDICTOR_KEYS}
            roles = {k: options.pop(k) for k in list(options) if k in _ROLE_KEYS}
            if roles and "item" not in roles:
                raise UsageError("PurchasePredictor: the column roles need item= (the item id column) beside "
                                 f"{sorted(roles)}")
            roles_config = make_roles(**roles) if roles else None
            config = self.make_config(model=model, modalities=modalities, scope=scope,
                                      encoders=encoders or EncodersConfig(), options=options, roles=roles_config,
                                      **settings)
        elif model != "lightgbm" or modalities is not None or encoders is not None or scope != "global" or options:
            raise UsageError("PurchasePredictor: pass either config= or the settings (model, modalities, encoders, "
                             "scope, options), not both: the settings beside a config would be ignored")
        if config.scope not in SCOPES:
            raise UsageError(f"scope must be one of {list(SCOPES)}, not {config.scope!r}")
        if config.projection not in ("train", "catalogue"):
            raise UsageError(f"projection must be 'train' or 'catalogue', not {config.projection!r}")
        self.config = config
        self.profiles = profiles
        self.featurizer_: Featurizer | None = None
        self.model_: ScopedModel | None = None
        self.info_: dict[str, Any] = {}

    def __repr__(self) -> str:
        c = self.config
        head = f"PurchasePredictor(model={c.model!r}, scope={c.scope!r}"
        if c.modalities:
            head += f", modalities={c.modalities}"
        if c.options:
            head += f", options={c.options}"
        if c.roles is not None and c.roles.label:
            head += f", label={c.roles.label!r}"
        if not self.is_fitted():
            return head + "; not fitted)"
        info = self.info_
        return (head + f"; fitted on {info.get('training_rows', '?'):,} events, modalities "
                f"{'+'.join(info.get('modalities', []))}, {sum(len(v) for v in info.get('feature_names', {}).values())}"
                " features)")

    # ---- fit ----
    def _dataset(self, data: Data, purpose: str) -> Dataset:
        """A dataset (folder, :class:`Dataset`, or a flat DataFrame read with the predictor's column roles),
        validated for ``purpose``."""
        if isinstance(data, pd.DataFrame):
            roles = self.config.roles
            if roles is None:
                raise UsageError("a DataFrame needs its columns' roles: PurchasePredictor(label=..., item=..., "
                                 "user=..., country=..., offer=[...], ...), or pass Dataset.from_frame(df, ...)")
            named = roles.model_dump()
            if purpose == "score" and named["label"] is not None and named["label"] not in data.columns:
                named["label"] = None  # scoring new rows: no label yet
            return _as_dataset(Dataset.from_frame(data, **named), purpose)
        if not isinstance(data, Dataset | str | Path):
            raise UsageError(f"expected a pandas DataFrame, a culturecart Dataset or a dataset folder, not "
                             f"{type(data).__name__}")
        return _as_dataset(data, purpose)

    def fit(self, dataset: Data, valid: Data | None = None,
            progress: Callable[[str], None] | None = None) -> PurchasePredictor:
        """Fit the featurizer on ``dataset``'s rows (never on ``valid``), then the model.

        Without ``valid``, ``valid_share`` of the users are held out of the model's training rows for early
        stopping and calibration. ``progress(detail)`` is called after each of :data:`FIT_STEPS` steps.
        """
        c = self.config
        step = progress or (lambda detail: None)
        ds = self._dataset(dataset, "study")
        step(f"validated {len(ds.table('events')):,} events")
        emb = encode_dataset(ds, c.encoders, progress=False, keys=EMBEDDING_KEYS)
        step(f"encoded {', '.join(emb) or 'no texts or images'}")
        keep_text = needs_raw_text([c.model])
        self.featurizer_ = Featurizer(max_levels=c.max_levels, embedding_dim=c.embedding_dim).fit(
            ds, emb, projection=c.projection)
        data = self.featurizer_.transform(ds, emb, keep_text=keep_text)
        step(f"{sum(len(v) for v in data.names.values()):,} features in {len(data.modalities)} modalities")
        if valid is None:
            held = _held_out_users(data.meta["user_id"].to_numpy(), c.valid_share, c.seed) if c.valid_share > 0 \
                else np.zeros(data.n, bool)
            train, holdout = (data.rows(~held), data.rows(held)) if held.any() and not held.all() else (data, None)
        else:
            vds = self._dataset(valid, "study")
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
        step(f"fitted {c.model} ({c.scope}) on {train.n:,} rows")
        self.info_ = {"feature_names": data.names, "modalities": data.modalities, "encoders": self.featurizer_.encoders,
                      "training_fingerprint": _fingerprint(ds), "training_rows": int(data.n),
                      "keep_text": keep_text}
        self.training_fingerprint_ = self.info_["training_fingerprint"]
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
        check_is_fitted(self)
        return self.featurizer_, self.model_

    def iter_features(self, dataset: Data, chunk_size: int = 100_000) -> tuple[Dataset, int, Any]:
        """The validated dataset, its number of events and a generator of (row positions, features) chunks."""
        ds = self._dataset(dataset, "score")
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

    def predict_proba(self, dataset: Data, chunk_size: int = 100_000,
                      progress: Callable[[int, int], None] | None = None,
                      out: str | Path | None = None) -> np.ndarray | pd.Series | Path:
        """P(purchased = 1) for every event of ``dataset``, in its row order, scored ``chunk_size`` rows at a time:
        an array, or for a DataFrame a Series (``p_purchase``) aligned with its index.

        With ``out`` (a folder path; ``dataset`` a dataset folder) the events are streamed instead of loaded and
        the scores written there as Parquet (:func:`culturecart.scoring.score_to_folder`: resumable, published
        atomically): returns ``out``. ``progress(rows_done_now, total)`` is called after each chunk.
        """
        if out is not None:
            if not isinstance(dataset, str | Path):
                raise UsageError("predict_proba(out=...) streams a dataset folder; in-memory data is scored "
                                 "without out=")
            score_to_folder(self, dataset, out, batch_rows=chunk_size, progress=progress)
            return Path(out)
        p = self._predict(self._dataset(dataset, "score"), chunk_size, progress)
        return pd.Series(p, index=dataset.index, name="p_purchase") if isinstance(dataset, pd.DataFrame) else p

    def iter_scores(self, dataset: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS,
                    with_labels: bool = False) -> Iterator[ScoredBatch]:
        """Scored batches of a dataset folder's events (one events file or a folder ``events/`` of Parquet files),
        read batch by batch, never whole: :func:`culturecart.scoring.iter_scores` (the same scores as
        :meth:`score`, histories included)."""
        from culturecart.scoring import iter_scores

        check_is_fitted(self)
        if not isinstance(dataset, str | Path):
            raise UsageError("iter_scores streams a dataset folder; score in-memory data with score()")
        return iter_scores(self, dataset, batch_rows, with_labels)

    def predict_dask(self, events: Any, catalogue: Dataset | str | Path, with_labels: bool = False) -> Any:
        """Scores of a Dask DataFrame of events on the workers of the default Dask client (or locally): a lazy
        Dask DataFrame of the event keys and ``p_purchase``, equal to :meth:`score`'s
        (:func:`culturecart.scoring.predict_dask`). ``catalogue``: the dataset (folder) with users and items."""
        from culturecart.scoring import predict_dask

        check_is_fitted(self)
        try:
            import dask.dataframe  # noqa: F401
        except ImportError as err:
            raise UsageError("predict_dask needs Dask: pip install 'dask[distributed]'") from err
        return predict_dask(self, events, catalogue, with_labels)

    def score(self, dataset: Data, chunk_size: int = 100_000,
              progress: Callable[[int, int], None] | None = None, with_labels: bool = False) -> pd.DataFrame:
        """The event key columns (those present) and ``p_purchase``, one row per event.

        ``with_labels``: also the ``purchased`` label (checked before any scoring: a
        :class:`~culturecart.errors.UsageError` when the data has none), for :func:`label_metrics`.
        """
        ds = self._dataset(dataset, "score")
        events = ds.table("events").reset_index(drop=True)
        if with_labels and "purchased" not in events.columns:
            raise UsageError(f"evaluating needs labels: {getattr(dataset, 'name', dataset)} has no events.purchased "
                             "column (score it without evaluating)")
        p = self._predict(ds, chunk_size, progress)
        keys = events[[c for c in KEY_COLUMNS if c in events.columns]].astype(str)
        out = keys.assign(p_purchase=p)
        return out.assign(purchased=events["purchased"].to_numpy()) if with_labels else out

    def evaluate(self, dataset: Data, metrics: tuple[str, ...] = EVALUATE_METRICS,
                 n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
        """Metrics on a labelled dataset, each with a user-cluster bootstrap CI: metric, value, ci_low, ci_high."""
        ds = self._dataset(dataset, "study")
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

    def explain(self, dataset: Data, chunk_size: int = 100_000) -> pd.DataFrame:
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
        out = pd.concat(parts, ignore_index=True)
        if isinstance(dataset, pd.DataFrame):
            out.index = dataset.index  # one row per row of the caller's table
        return out

    # ---- persistence ----
    def _save_state(self, folder: Path) -> dict:
        featurizer, model = self._fitted()
        featurizer.write_into(folder / "featurizer")
        model.write_into(folder / "model")
        return {"schema_version": SCHEMA_VERSION, **self.info_}

    @classmethod
    def _from_state(cls, config: PredictorConfig, state: dict, files: Files) -> PurchasePredictor:
        if state.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInputError(f"predictor folder {files.folder} was written for data schema "
                                    f"{state.get('schema_version')}; this version reads schema {SCHEMA_VERSION}: fit "
                                    "the model again")
        predictor = cls(config=config)
        predictor.info_ = {k: v for k, v in state.items() if k != "schema_version"}
        if files.exists("featurizer.npz"):  # format 1
            predictor.featurizer_ = Featurizer.from_arrays(files.npz("featurizer.npz"))
        else:
            predictor.featurizer_ = files.fitted("featurizer", Featurizer)
        predictor.model_ = files.fitted("model", ScopedModel)
        predictor.profiles = predictor.model_.profiles
        return predictor

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """``predictor.json`` of format 1 (culturecart before the persistence contract): same settings and state,
        ``featurizer.npz`` beside ``model/``."""
        if raw.get("format") != 1:
            raise InvalidInputError(f"predictor folder {folder} was written by culturecart {raw.get('culturecart', '?')}"
                                    f" (format {raw.get('format')}); this version reads formats 1 and "
                                    f"{PREDICTOR_FORMAT}: fit the model again with `culturecart fit`")
        state = {k: v for k, v in raw.items() if k not in ("format", "culturecart", "config")}
        return {"kind": "predictor", "format": 1, "config": raw["config"], "state": state,
                "training": raw.get("training_fingerprint"), "files": {}}


def label_metrics(scores: pd.DataFrame) -> dict[str, float | int]:
    """AUC and PR-AUC of ``p_purchase`` against ``purchased`` over the scored rows (what ``predict --evaluate``
    prints); :class:`~culturecart.errors.InvalidInputError` without both classes among them."""
    from culturecart.evaluate.metrics import get_metric

    ok = scores["p_purchase"].notna().to_numpy()
    y, p = scores["purchased"].to_numpy()[ok], scores["p_purchase"].to_numpy()[ok]
    if len(set(y.tolist())) < 2:
        raise InvalidInputError("evaluating needs both label classes among the scored events")
    return {"auc": round(get_metric("roc_auc")(y, p), 6), "pr_auc": round(get_metric("pr_auc")(y, p), 6),
            "rows": int(ok.sum())}


def write_predictor(folder: str | Path, config: PredictorConfig, featurizer: Featurizer,
                    write_model: Callable[[Path], object], info: dict[str, Any], overwrite: bool = False) -> Path:
    """Write a predictor folder atomically from its parts; ``write_model(path)`` writes the ``model/`` folder.

    The study publishes its units' model files this way, without loading the models (its driver never imports
    them); ``PurchasePredictor.save`` writes the same layout.
    """
    folder = Path(folder)
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        featurizer.write_into(tmp / "featurizer")
        write_model(tmp / "model")
        write_parts(tmp, PurchasePredictor.kind, PurchasePredictor.format, config.model_dump(mode="json"),
                    {"schema_version": SCHEMA_VERSION, **info}, info.get("training_fingerprint"))
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
