"""Run a whole study: data -> validation -> encoders -> RQ1..RQ5 (and matching) -> tables -> report.

Every fit is a :class:`~culturecart.study.store.Unit` keyed by its inputs, so an interrupted study
resumes where it stopped and finishes with the same numbers. Outputs in ``out``: ``results.parquet``
(one tidy table), ``rq*.csv``, ``models/``, ``config.resolved.yaml``, ``report.html``.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from culturecart.atomic import atomic_write_text, check_output_dir
from culturecart.culture.hofstede_link import alignment_scores, hofstede_correlations, literature_verdicts
from culturecart.culture.rq3 import score_scopes
from culturecart.culture.scopes import ScopedModel, fit_scope
from culturecart.culture.sensitivity import (
    SensitivityResult,
    country_logit,
    pd_sensitivity,
    sensitivity_design,
    sensitivity_matrix,
)
from culturecart.culture.transfer import summarise_transfer, transfer_run, transfer_tasks
from culturecart.data.dataset import Dataset
from culturecart.data.hofstede import load_hofstede, shipped_hofstede
from culturecart.data.simulate import SimulationConfig, write_marketplace
from culturecart.data.validate import require_valid
from culturecart.encoders.dataset import encode_dataset
from culturecart.errors import ConfigError, InvalidInputError
from culturecart.evaluate.grid import fit_predict, grid_jobs, score_grid
from culturecart.evaluate.splits import Split, make_split
from culturecart.explain.attributions import attention_by_modality, treeshap_by_modality
from culturecart.explain.modality import add_one, leave_one_out, modality_shapley
from culturecart.models.base import PurchaseModel
from culturecart.models.features import ModalityData
from culturecart.models.featurizer import Featurizer
from culturecart.models.neural import NeuralModel, TransformerModel
from culturecart.models.registry import model_spec, needs_raw_text
from culturecart.study.config import StudyConfig
from culturecart.study.store import Artifact, Unit, UnitStore, fingerprint, folder_files

TIDY_COLUMNS = ["question", "model", "scope", "country", "modalities", "feature", "dimension", "fraction", "metric",
                "value", "ci_low", "ci_high", "test", "p_value", "p_adjusted"]


class StudyError(InvalidInputError):
    """The study cannot run on this input; the message says what to fix (exit code 1)."""


@dataclass
class StudyResults:
    """Everything the report needs (tables, curves data, settings and what ran)."""

    config: StudyConfig
    out: Path
    dataset_name: str
    n_rows: int
    countries: list[str]
    modalities: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (y, p)
    notes: list[str] = field(default_factory=list)
    truth: dict | None = None
    seconds: float = 0.0
    units_computed: int = 0
    units_reused: int = 0


# ---- unit functions (module level so that worker processes can import them) ----

def _model_files(scoped: ScopedModel) -> dict[str, bytes]:
    """A fitted scope's model folder as bytes: the worker saves it locally and sends it back to the driver."""
    with tempfile.TemporaryDirectory() as tmp:
        scoped.save(Path(tmp) / "model")
        return folder_files(Path(tmp) / "model")


def _rq1_unit(name: str, subset: tuple[str, ...], data: ModalityData, split: Split, seed: int, options: dict,
              keep: bool) -> np.ndarray | Artifact:
    p, model = fit_predict(name, subset, data, split, seed=seed, options=options)
    p = np.asarray(p, float)
    return Artifact(p, _model_files(ScopedModel("global", model))) if keep else p


def _scope_unit(scope: str, model: str, data: ModalityData, split: Split, profiles: pd.DataFrame, seed: int,
                options: dict) -> Artifact:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipped countries are reported by the scoring
        fitted = fit_scope(scope, model, data.rows(split.train), data.rows(split.valid), profiles=profiles,
                           seed=seed, **options)
    return Artifact(np.asarray(fitted.predict_proba(data.rows(split.test)), float), _model_files(fitted))


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _rq4_unit(ds: Dataset, emb: dict, rows: str, features: list[str] | None, min_rows: int, seed: int) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = sensitivity_design(ds, emb, rows=rows, features=features, seed=seed)
        res = country_logit(design, min_rows=min_rows)
    return {"effects": _records(res.effects), "heterogeneity": _records(res.heterogeneity),
            "intercepts": {k: float(v) for k, v in res.intercepts.items()}, "countries": res.countries,
            "warnings": [str(w.message) for w in caught]}


def _pooled_model(files: dict[str, bytes]) -> PurchaseModel:
    """The pooled model of a unit's model files (sent as bytes: a worker need not see the driver's disk)."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_bytes(data)
        return PurchaseModel.load(Path(tmp) / "pooled")


def _pd_unit(model_files: dict[str, bytes], data: ModalityData, n_boot: int, seed: int) -> pd.DataFrame:
    return pd_sensitivity(_pooled_model(model_files), data, n_boot=n_boot, seed=seed)


def _explain_unit(kind: str, model_files: dict[str, bytes], data: ModalityData) -> pd.DataFrame:
    model = _pooled_model(model_files)
    shares = treeshap_by_modality(model, data) if kind == "treeshap" else attention_by_modality(model, data)
    return shares.rename_axis("country").reset_index()


# ---- helpers ----

def _dataset_fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.glob("*.parquet")) + sorted(root.glob("*.csv")) + sorted(root.glob("*.json")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def _tidy(frame: pd.DataFrame, **constants: Any) -> pd.DataFrame:
    out = frame.copy()
    for k, v in constants.items():
        out[k] = v
    for col in TIDY_COLUMNS:
        if col not in out:
            out[col] = np.nan
    return out[TIDY_COLUMNS]


class _Reporter:
    """Study messages on stderr (stdout is for results), with a live view of each stage's units.

    On a terminal: a rich progress bar per stage (units done / total, elapsed, ETA, the unit being fitted);
    otherwise one line per finished unit; ``quiet`` silences both.
    """

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True, markup=False)
        self.started = time.perf_counter()
        self.units = None if quiet else _UnitProgress(self)

    def __call__(self, message: str) -> None:
        self.console.print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", markup=False)


class _UnitProgress:
    def __init__(self, reporter: _Reporter) -> None:
        self.reporter, self.bar, self.task, self.names = reporter, None, None, []

    def start(self, stage: str, names: list[str], slots: int = 1) -> None:
        """A stage of ``names`` units, dispatched in that order to ``slots`` workers."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.names, self.stage, self.count, self.slots, self.finished = names, stage, 0, slots, set()
        if self.reporter.console.is_terminal:
            self.bar = Progress(TextColumn(stage), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[unit]}", markup=False),
                                console=self.reporter.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(stage, total=len(names), unit=self._running())

    def _running(self) -> str:
        # Workers take units in dispatch order: the first unfinished ones are the ones being fitted.
        running = [n for j, n in enumerate(self.names) if j not in self.finished][:self.slots]
        return ", ".join(running)

    def done(self, i: int) -> None:
        self.count += 1
        self.finished.add(i)
        if self.bar is not None:
            self.bar.update(self.task, advance=1, unit=self._running())
        else:
            self.reporter(f"{self.stage}: {self.count}/{len(self.names)} done ({self.names[i]})")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _user_data(cfg: StudyConfig) -> tuple[Dataset, str] | None:
    """The user's dataset (``data.path``), loaded and validated; None when the study simulates its data."""
    if not cfg.data.path:
        return None
    root = Path(cfg.data.path)
    if not root.is_dir():
        raise StudyError(f"data.path {root} is " + ("a file, not a folder" if root.exists() else "not a folder")
                         + " (convert your data with `culturecart convert`)")
    ds = require_valid(root, purpose="study", check_images=cfg.data.check_images)
    return ds, _dataset_fingerprint(root)


def _simulated_data(cfg: StudyConfig, out: Path, say: Callable[[str], None]) -> tuple[Dataset, str]:
    sim = SimulationConfig(**{"seed": cfg.seed, **cfg.data.simulate})
    key = fingerprint(sim.model_dump())
    root, marker = out / "data", out / "data" / "study_key.txt"
    if not (marker.exists() and marker.read_text("utf-8") == key):
        say(f"simulating the marketplace ({sim.n_users} users, {len(sim.countries)} countries)")
        write_marketplace(root, sim, overwrite=True)
        atomic_write_text(marker, key)
    return require_valid(root, purpose="study", check_images=cfg.data.check_images), key


def _check_inputs(cfg: StudyConfig) -> None:
    """Settings that name files: checked before anything is created."""
    if cfg.culture.hofstede_path:
        load_hofstede(cfg.culture.hofstede_path)
    if cfg.matching.enabled and cfg.matching.input and not Path(cfg.matching.input).is_file():
        raise ConfigError(f"matching.input {cfg.matching.input} is not a file")
    if not cfg.data.path:
        try:
            SimulationConfig(**{"seed": cfg.seed, **cfg.data.simulate})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"data.simulate: {err}") from None


def _profiles(cfg: StudyConfig, countries: list[str]) -> pd.DataFrame:
    base = shipped_hofstede()
    if cfg.culture.hofstede_path:
        extra = load_hofstede(cfg.culture.hofstede_path)
        base = pd.concat([extra, base[~base.index.isin(extra.index)]])
    return base.loc[[c for c in countries if c in base.index]]


class _Publisher:
    """Writes ``models/<name>/`` predictor folders from this run's units, and only those.

    Each folder is assembled by the driver from the unit's stored model files and the study's featurizer, so
    ``culturecart predict --model-dir OUT/models/<name>`` scores new data; ``made`` maps a name to the unit that
    made it, which is what RQ2 and RQ4 explain. Folders of earlier runs that this run did not make are removed.
    """

    def __init__(self, root: Path, cfg: StudyConfig, featurizer: Featurizer, enc, data: ModalityData,
                 data_key: str, keep_text: bool) -> None:
        self.root, self.cfg, self.featurizer, self.enc = root, cfg, featurizer, enc
        self.info = {"feature_names": data.names, "modalities": data.modalities, "encoders": featurizer.encoders,
                     "training_fingerprint": data_key, "keep_text": keep_text}
        self.made: dict[str, tuple[str, Path]] = {}

    def __call__(self, name: str, files: Path, model: str, modalities: list[str] | None, scope: str,
                 options: dict, unit_key: str) -> None:
        from culturecart.predictor import PredictorConfig, write_predictor

        config = PredictorConfig(model=model, modalities=modalities, scope=scope,
                                 encoders=self.enc.model_copy(update={"cache_dir": None}),
                                 embedding_dim=self.cfg.embedding_dim, projection="catalogue", seed=self.cfg.seed,
                                 options=options)
        write_predictor(self.root / name, config, self.featurizer, lambda target: shutil.copytree(files, target),
                        {**self.info, "study_unit": unit_key}, overwrite=True)
        self.made[name] = (unit_key, files)

    def remove_stale(self) -> None:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name not in self.made and not folder.name.startswith("."):
                shutil.rmtree(folder)


def run_study(cfg: StudyConfig, out: str | Path, quiet: bool = False) -> StudyResults:
    """Run every enabled part of the study into ``out`` and write the report; returns what was computed.

    With ``parallel.backend: dask`` and ``parallel.address``, units run on that Dask cluster: workers compute
    and return (results and model files), the driver writes the unit store, so no shared file system is needed.
    """
    out = Path(out)
    say = _Reporter(quiet)
    t0 = time.perf_counter()
    # Everything that can be refused is checked before the output folder is created or touched.
    check_output_dir(out, resume=True)
    _check_inputs(cfg)
    loaded = _user_data(cfg)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False,
                                                                   allow_unicode=True))
    store = UnitStore(out / "units", cfg.parallel.n_jobs, cfg.parallel.backend)
    with _cluster(cfg):
        return _run(cfg, out, loaded, store, say, t0)


@contextlib.contextmanager
def _cluster(cfg: StudyConfig):
    """Connect to the cluster named in ``parallel.address`` for the dask or ray backend (joblib uses it)."""
    p = cfg.parallel
    if p.backend == "dask" and p.address:
        from distributed import Client

        with Client(p.address, set_as_default=True):
            yield
    elif p.backend == "ray" and p.address:
        import ray

        ray.init(address=p.address)
        try:
            yield
        finally:
            ray.shutdown()
    else:
        yield


def _run(cfg: StudyConfig, out: Path, loaded, store: UnitStore, say, t0: float) -> StudyResults:
    from culturecart.report.html import write_report

    ds, data_key = loaded or _simulated_data(cfg, out, say)
    say(f"data: {len(ds.events):,} events valid")
    enc = cfg.encoders.model_copy(update={"cache_dir": str(out / "cache")})
    emb = encode_dataset(ds, enc, progress=False)
    say(f"encoders: {', '.join(f'{k} ({v.encoder})' for k, v in emb.items()) or 'no text or image columns'}")
    keep_text = needs_raw_text([*cfg.rq1.models, *cfg.rq1.extra, cfg.culture.model])
    # Fitted on the study's whole dataset without its labels (levels, projections; the users' earlier purchases
    # are features), as build_features does; every saved model carries this state, so it can score new data.
    featurizer = Featurizer(embedding_dim=cfg.embedding_dim).fit(ds, emb)
    data = featurizer.transform(ds, emb, keep_text=keep_text)
    countries = sorted(pd.Series(data.meta["country"]).dropna().astype(str).unique())
    res = StudyResults(cfg, out, str(ds.meta.get("name", "dataset")), data.n, countries, data.modalities,
                       truth=ds.extras.get("truth.json"))
    base = {"data": data_key, "encoders": enc.model_dump(exclude={"cache_dir"}), "dim": cfg.embedding_dim,
            "seed": cfg.seed}
    tidy = []
    if not countries:
        res.notes.append("The data has no countries: RQ3-RQ5 were skipped.")
    if "image" not in data.modalities:
        res.notes.append("The data has no images: the image modality is absent from every analysis.")
    if 0 < len(countries) < 5:
        res.notes.append(f"Only {len(countries)} countries: culture-level correlations are very uncertain.")
    publish = _Publisher(out / "models", cfg, featurizer, enc, data, data_key, keep_text)

    if cfg.rq1.enabled:
        tidy.append(_run_rq1(cfg, data, base, store, res, publish, say))
    if cfg.rq1.enabled and cfg.rq2.get("enabled", True):
        tidy.append(_run_rq2(cfg, data, base, store, res, publish, say))
    culture_ready = len(countries) >= 2
    if culture_ready and (cfg.rq3.enabled or cfg.rq4.enabled or cfg.rq5.enabled):
        profiles = _profiles(cfg, countries)
        missing = sorted(set(countries) - set(profiles.index))
        if missing:
            res.notes.append(f"No Hofstede profile for {missing}: the culture-conditioned model sees them as "
                             "missing, and they are left out of the Hofstede correlations.")
        split = make_split(data, by=cfg.culture.split.by, test_share=cfg.culture.split.test_share,
                           valid_share=cfg.culture.split.valid_share, seed=cfg.seed)
        if cfg.rq3.enabled:
            tidy.append(_run_rq3(cfg, data, split, profiles, base, store, res, publish, say))
        if cfg.rq4.enabled:
            tidy.append(_run_rq4(cfg, ds, emb, data, split, profiles, base, store, res, publish, say))
        if cfg.rq5.enabled:
            tidy.append(_run_rq5(cfg, data, split, profiles, base, store, res, say))
    elif cfg.rq3.enabled or cfg.rq4.enabled or cfg.rq5.enabled:
        res.notes.append("Fewer than two countries: RQ3-RQ5 (culture analyses) were skipped.")
    if cfg.matching.enabled:
        tidy.append(_run_matching(cfg, ds, base, store, res, say))

    publish.remove_stale()
    results = pd.concat([t for t in tidy if t is not None and not t.empty], ignore_index=True) if tidy else \
        pd.DataFrame(columns=TIDY_COLUMNS)
    results.to_parquet(out / "results.parquet.tmp", index=False)
    (out / "results.parquet.tmp").replace(out / "results.parquet")
    for name, table in res.tables.items():
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
    res.tables["results"] = results
    res.seconds = time.perf_counter() - t0
    res.units_computed, res.units_reused = store.computed, store.reused
    report = write_report(res, out / "report.html")
    say(f"done: {store.computed} unit(s) computed, {store.reused} reused, {res.seconds:.0f}s")
    say(f"report: {report}")
    return res


def _fit_cost(model: str, subset: tuple[str, ...], options: dict) -> float:
    """Rough relative compute of one fit, so that the longest units start first (a scheduling hint only)."""
    spec = model_spec(model)
    if spec.cls is TransformerModel:
        return 10.0 * options.get("epochs", TransformerModel.config_class().epochs)
    if issubclass(spec.cls, NeuralModel):
        return 0.4 * options.get("epochs", spec.cls.config_class().epochs) * max(len(subset) / 2, 1)
    return 0.5 + 0.5 * len(subset)


def _run_rq1(cfg, data, base, store, res, publish, say) -> pd.DataFrame:
    c = cfg.rq1
    split = make_split(data, by=c.split.by, test_share=c.split.test_share, valid_share=c.split.valid_share,
                       seed=cfg.seed)
    full = tuple(data.modalities)
    jobs = grid_jobs(data, c.models, "all" if c.subsets == "all" else [full], [(m, full) for m in c.extra])
    units = []
    for name, subset in jobs:
        options = c.model_options.get(name, {})
        keep = subset == full
        units.append(Unit("rq1", f"{name}[{'+'.join(subset)}]",
                          {**base, "split": c.split.model_dump(), "model": name, "subset": subset,
                           "options": options},
                          _rq1_unit, (name, subset, data, split, cfg.seed, options, keep), artifact=keep,
                          cost=_fit_cost(name, subset, options)))
    say(f"RQ1: {len(units)} model x modality runs")
    preds = store.run(units, say)
    for (name, subset), unit in zip(jobs, units, strict=True):
        if unit.artifact:
            publish(f"rq1-{name}", store.artifact(unit), name, list(subset), "global",
                    c.model_options.get(name, {}), unit.key)
    predictions = {job: p for job, p in zip(jobs, preds, strict=True)}
    test = data.rows(split.test)
    [table] = store.run([Unit("rq1", "score", {"runs": [u.key for u in units], "metrics": c.metrics,
                                                "n_boot": c.n_boot},
                              lambda: score_grid(predictions, test, c.metrics, c.n_boot, cfg.seed).table)])
    res.tables["rq1_table"] = table
    auc = table[table["metric"] == "roc_auc"].sort_values("value", ascending=False)
    for _, row in auc.head(4).iterrows():
        key = (row["model"], tuple(row["modalities"].split("+")))
        res.curves[f"{row['model']} [{row['modalities']}]"] = (test.y, predictions[key])
    uni = auc[auc["n_modalities"] == 1]
    if not uni.empty:
        best = uni.iloc[0]
        res.curves.setdefault(f"{best['model']} [{best['modalities']}] (best unimodal)",
                              (test.y, predictions[(best["model"], (best["modalities"],))]))
    res.tables["rq1_split"] = pd.DataFrame([{"by": c.split.by, "train": len(split.train), "valid": len(split.valid),
                                             "test": len(split.test)}])
    say(f"RQ1: best AUC {auc.iloc[0]['value']:.4f} ({auc.iloc[0]['model']} [{auc.iloc[0]['modalities']}])")
    return _tidy(table, scope="global")


def _run_rq2(cfg, data, base, store, res, publish, say) -> pd.DataFrame | None:
    table = res.tables.get("rq1_table")
    if table is None:
        return None
    rows = []
    mods = tuple(data.modalities)
    lgbm = table[(table["model"] == "lightgbm") & (table["metric"] == "roc_auc")]
    values = {frozenset(m.split("+")): v for m, v in zip(lgbm["modalities"], lgbm["value"], strict=True)}
    if len(values) == 2 ** len(mods) - 1:
        for kind, numbers in (("shapley_auc", modality_shapley(values, mods)),
                              ("leave_one_out_auc", leave_one_out(values, mods))):
            rows += [{"model": "lightgbm", "modalities": m, "metric": kind, "value": v} for m, v in numbers.items()]
        tabular = [m for m in ("offer", "consumer", "behaviour") if m in mods]
        if tabular:
            rows += [{"model": "lightgbm", "modalities": m, "metric": "add_one_auc", "value": v,
                      "test": f"added to {'+'.join(tabular)}"} for m, v in add_one(values, mods, tabular).items()]
    else:
        res.notes.append("Modality Shapley values need LightGBM on every modality subset (rq1.subsets: all).")
    split = make_split(data, by=cfg.rq1.split.by, test_share=cfg.rq1.split.test_share,
                       valid_share=cfg.rq1.split.valid_share, seed=cfg.seed)
    test = data.rows(split.test)
    units = []
    for kind, model in (("treeshap", "lightgbm"), ("attention", "transformer")):
        made = publish.made.get(f"rq1-{model}")  # the model of this run's RQ1 unit, never an older folder
        if made is not None:
            unit_key, folder = made
            units.append(Unit("rq2", kind, {**base, "model_unit": unit_key, "split": cfg.rq1.split.model_dump()},
                              _explain_unit, (kind, folder_files(folder), test)))
    for unit, shares in zip(units, store.run(units, say), strict=True):
        res.tables[f"rq2_{unit.name}"] = shares
        long = shares.melt(id_vars="country", var_name="modalities", value_name="value")
        rows += [{"model": "lightgbm" if unit.name == "treeshap" else "transformer", "country": r.country,
                  "modalities": r.modalities, "metric": f"{unit.name}_share", "value": r.value}
                 for r in long.itertuples()]
    frame = pd.DataFrame(rows)
    res.tables["rq2_modalities"] = frame
    return _tidy(frame, question="RQ2")


def _enough_countries(data: ModalityData, split: Split, min_rows: int) -> list[str]:
    c = data.meta["country"].astype(object).to_numpy()[split.test]
    y = data.y[split.test]
    return sorted(k for k in {x for x in c if isinstance(x, str)}
                  if (c == k).sum() >= min_rows and 0 < y[c == k].sum() < (c == k).sum())


def _run_rq3(cfg, data, split, profiles, base, store, res, publish, say) -> pd.DataFrame:
    c, cc = cfg.rq3, cfg.culture
    common = {**base, "split": cc.split.model_dump(), "model": cc.model, "options": cc.model_options,
              "profiles": profiles.to_dict()}
    units = [Unit("rq3", scope, {**common, "scope": scope}, _scope_unit,
                  (scope, cc.model, data, split, profiles, cfg.seed, cc.model_options), artifact=True,
                  cost=3.0 if scope in ("finetune", "local") else 2.0)
             for scope in c.scopes]
    say(f"RQ3: {len(units)} scopes of {cc.model}")
    preds = dict(zip(c.scopes, store.run(units, say), strict=True))
    for scope, unit in zip(c.scopes, units, strict=True):
        publish(f"rq3-{scope}", store.artifact(unit), cc.model, None, scope, cc.model_options, unit.key)
    keep = _enough_countries(data, split, c.min_test_rows)
    rows = split.test[np.isin(data.meta["country"].astype(object).to_numpy()[split.test], keep)]
    pos = np.flatnonzero(np.isin(split.test, rows))
    test = data.rows(rows)
    [scored] = store.run([Unit("rq3", "score", {"runs": [u.key for u in units], "metrics": c.metrics,
                                                 "n_boot": c.n_boot, "countries": keep},
                               lambda: _score_rq3({s: p[pos] for s, p in preds.items()}, test, cc.model, c,
                                                  cfg.seed))])
    table, winners = _frame(scored["table"]), _frame(scored["winners"])
    res.tables["rq3_table"], res.tables["rq3_winners"] = table, winners
    if not winners.empty:
        say(f"RQ3: winners {winners['winner'].value_counts().to_dict()}, "
            f"{int(winners['significant'].sum())} significant after BH")
    return _tidy(table)


def _score_rq3(preds, test, model, c, seed) -> dict:
    result = score_scopes(preds, test, model, metrics=c.metrics, n_boot=c.n_boot, seed=seed)
    return {"table": _records(result.table), "winners": _records(result.winners)}


def _run_rq4(cfg, ds, emb, data, split, profiles, base, store, res, publish, say) -> pd.DataFrame:
    c = cfg.rq4
    rows = c.rows
    if rows == "auto":
        ev = ds.events
        rows = "clicked" if "clicked" in ev and ev["clicked"].fillna(0).astype(float).sum() > 0 and \
            ev.loc[ev["clicked"].fillna(0).astype(float) > 0, "purchased"].nunique() == 2 else "all"
    tidy = []
    try:
        [logit] = store.run([Unit("rq4", "logit", {**base, "rows": rows, "features": c.features,
                                                   "min_rows": c.min_rows},
                                  _rq4_unit, (ds, emb, rows, c.features, c.min_rows, cfg.seed))], say)
    except ValueError as err:
        res.notes.append(f"RQ4 logit not estimated: {err}")
        logit = None
    if logit is not None:
        result = SensitivityResult(_frame(logit["effects"]), _frame(logit["heterogeneity"]),
                                   pd.Series(logit["intercepts"]), logit["countries"])
        res.notes += [f"RQ4: {w}" for w in logit["warnings"]]
        sens = sensitivity_matrix(result)
        corr = hofstede_correlations(sens, profiles, seed=cfg.seed)
        verdicts = literature_verdicts(corr, alpha=c.alpha)
        res.tables.update(rq4_effects=result.effects, rq4_heterogeneity=result.heterogeneity,
                          rq4_hofstede=corr, rq4_literature=verdicts,
                          rq4_sensitivity=sens.rename_axis("country").reset_index())
        e = result.effects
        tidy += [_tidy(e.rename(columns={"coef": "value"}).assign(metric="logit_coef", test="cluster-robust Wald"),
                       question="RQ4", model="logit"),
                 _tidy(e[["country", "feature", "ame", "ame_ci_low", "ame_ci_high"]].rename(
                     columns={"ame": "value", "ame_ci_low": "ci_low", "ame_ci_high": "ci_high"}).assign(
                     metric="average_marginal_effect"), question="RQ4", model="logit"),
                 _tidy(result.heterogeneity.rename(columns={"wald_chi2": "value"}).assign(
                     metric="heterogeneity_wald_chi2", test="Wald: equal across countries"), question="RQ4",
                     model="logit"),
                 _tidy(corr.rename(columns={"rho": "value"}).assign(metric="spearman_rho_hofstede",
                                                                    test="permutation"), question="RQ4")]
        say(f"RQ4: {len(result.countries)} countries, "
            f"{int((result.heterogeneity['p_value'] < 0.05).sum())} heterogeneous feature(s); literature "
            f"{verdicts['verdict'].value_counts().to_dict()}")
    made = publish.made.get("rq3-global")  # this run's global-scope model, never an older folder
    if made is not None:
        unit_key, folder = made
        test = data.rows(split.test)
        [pd_table] = store.run([Unit("rq4", "partial_dependence",
                                     {**base, "model_unit": unit_key, "split": cfg.culture.split.model_dump()},
                                     _pd_unit, (folder_files(folder), test, cfg.rq3.n_boot, cfg.seed))], say)
        if not pd_table.empty:
            res.tables["rq4_partial_dependence"] = pd_table
            implied = pd_table.pivot(index="country", columns="feature", values="pd_slope")
            align = alignment_scores(implied, profiles).rename_axis("country").reset_index()
            res.tables["rq4_alignment"] = align
            tidy += [_tidy(pd_table.rename(columns={"pd_slope": "value"}).assign(metric="pd_slope"),
                           question="RQ4", model=cfg.culture.model, scope="global"),
                     _tidy(align.rename(columns={"alignment": "value"}).assign(metric="alignment_score"),
                           question="RQ3", model=cfg.culture.model, scope="global")]
    return pd.concat(tidy, ignore_index=True) if tidy else pd.DataFrame(columns=TIDY_COLUMNS)


def _run_rq5(cfg, data, split, profiles, base, store, res, say) -> pd.DataFrame | None:
    c, cc = cfg.rq5, cfg.culture
    if c.targets == "auto":
        enough = _enough_countries(data, split, cfg.rq3.min_test_rows)
        counts = data.meta["country"].value_counts()
        targets = sorted(enough, key=lambda k: (counts[k], k))[:c.n_auto_targets]
    else:
        targets = list(c.targets)
    if not targets:
        res.notes.append("RQ5 skipped: no country has enough test rows.")
        return None
    tasks = transfer_tasks(data, targets, fractions=c.fractions, arms=c.arms, seeds=range(c.seeds),
                           sources=c.sources)
    common = {**base, "split": cc.split.model_dump(), "model": cc.model, "options": cc.model_options,
              "profiles": profiles.to_dict()}
    units = [Unit("rq5", f"{t[0]}-{t[2]}-{t[3]}-{t[4]}", {**common, "task": t}, transfer_run,
                  (data, split, *t, cc.model, profiles, cc.model_options)) for t in tasks]
    say(f"RQ5: {len(units)} learning-curve fits for {targets}")
    runs = pd.DataFrame(store.run(units, say))
    curves = summarise_transfer(runs, targets, c.arms)
    res.tables.update(rq5_runs=runs, rq5_curves=curves.summary, rq5_data_equivalent=curves.data_equivalent)
    s = curves.summary.rename(columns={"target": "country", "arm": "scope"})
    return _tidy(s.assign(metric="roc_auc", test="mean over seeds, t interval"), question="RQ5", model=cc.model)


def _run_matching(cfg, ds, base, store, res, say) -> pd.DataFrame | None:
    from culturecart.matching.ladder import matching_ladder

    path = Path(cfg.matching.input) if cfg.matching.input else ds.resolve(ds.meta.get("matching_file"))
    if path is None or not Path(path).exists():
        res.notes.append("Matching skipped: no Shopee-format file (matching.input) and none in the dataset.")
        return None
    images = ds.resolve(ds.meta.get("image_dir")) if not cfg.matching.input else None
    [ladder] = store.run([Unit("matching", "ladder", {**base, "input": str(path), "folds": cfg.matching.folds},
                               matching_ladder, (str(path), str(images) if images else None, cfg.matching.folds,
                                                 cfg.seed, cfg.encoders.text.name))], say)
    frame = pd.DataFrame(ladder)
    res.tables["matching_ladder"] = frame
    say(f"matching: final mean F1 {frame['value'].iloc[-1]:.4f}")
    return _tidy(frame.assign(metric="mean_f1"), question="M")
