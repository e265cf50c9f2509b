"""Run a whole study: data -> validation -> encoders -> RQ1..RQ5 (and matching) -> tables -> report.

Every fit is a :class:`~culturecart.study.store.Unit` keyed by its inputs, so an interrupted study
resumes where it stopped and finishes with the same numbers; the stages (:mod:`culturecart.study.stages`)
share one pool of workers. Outputs in ``out``: ``results.parquet``
(one tidy table), ``rq*.csv``, ``models/``, ``config.resolved.yaml``, ``findings.json`` and ``findings.md``, ``report.html``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from culturecart.atomic import atomic_path, atomic_write_text, check_not_an_input, check_output_dir
from culturecart.data.dataset import Dataset
from culturecart.data.hofstede import load_hofstede, with_extra_profiles
from culturecart.data.simulate import SimulationConfig, write_marketplace
from culturecart.data.validate import require_valid
from culturecart.encoders.dataset import encode_dataset
from culturecart.errors import ConfigError, EnvironmentProblem, InvalidInputError
from culturecart.evaluate.splits import make_split
from culturecart.models.features import ModalityData
from culturecart.models.featurizer import EMBEDDING_KEYS, Featurizer
from culturecart.models.registry import needs_raw_text
from culturecart.parallel import dask_client
from culturecart.progress import StepProgress
from culturecart.study import stages as stage
from culturecart.study.config import StudyConfig
from culturecart.study.keys import code_version, dataset_key, outside_files
from culturecart.study.scheduling import TIDY_COLUMNS, StageContext, drive
from culturecart.study.store import UnitStore, fingerprint
from culturecart.study.workers import study_workers


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
    kind: str = "events"  # "events" (a canonical dataset) or "markets" (ratings per market: RQ3 and RQ5 only)


# ---- helpers ----

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
    """One :class:`~culturecart.progress.StepProgress` per batch of units; the detail names the units in flight."""

    def __init__(self, reporter: _Reporter) -> None:
        self.reporter, self.steps, self.names = reporter, None, []

    def start(self, stage: str, names: list[str], slots: int = 1) -> None:
        """A batch of ``names`` units, dispatched in that order to ``slots`` workers."""
        self.names, self.slots, self.finished = names, slots, set()
        self.steps = StepProgress(stage, len(names), console=self.reporter.console).__enter__()

    def _running(self) -> str:
        # Workers take units in dispatch order: the first unfinished ones are the ones being fitted.
        running = [n for j, n in enumerate(self.names) if j not in self.finished][:self.slots]
        return f"; fitting {', '.join(running)}" if running else ""

    def done(self, i: int) -> None:
        self.finished.add(i)
        self.steps(f"done ({self.names[i]}){self._running()}")

    def stop(self) -> None:
        if self.steps is not None:
            self.steps.__exit__(None, None, None)
            self.steps = None


def _user_data(cfg: StudyConfig) -> tuple[Dataset, str] | None:
    """The user's dataset (``data.path``), loaded and validated; None when the study simulates its data."""
    if not cfg.data.path:
        return None
    root = Path(cfg.data.path)
    if not root.is_dir():
        raise StudyError(f"data.path {root} is " + ("a file, not a folder" if root.exists() else "not a folder")
                         + " (convert your data with `culturecart convert`)")
    ds = require_valid(root, purpose="study", check_images=cfg.data.check_images)
    return ds, dataset_key(root, outside_files(ds))


def _markets_data(cfg: StudyConfig):
    """The markets folder of ``data.markets``, read and validated; None for the other kinds of data."""
    if not cfg.data.markets:
        return None
    from culturecart.ranking.markets import read_markets

    root = Path(cfg.data.markets)
    markets = read_markets(root)
    from culturecart.study.markets import targets_of

    if not targets_of(markets):
        raise StudyError(f"{root}: no market has test users (test_run.tsv and test_qrel.tsv), so there is nothing to rank "
                         "(build the layout with `culturecart xmarket split`)")
    return markets


def _simulated_data(cfg: StudyConfig, out: Path, say: Callable[[str], None]) -> tuple[Dataset, str]:
    sim = SimulationConfig(**{"seed": cfg.seed, **cfg.data.simulate})
    key = fingerprint([sim.model_dump(), code_version(write_marketplace)])
    root, marker = out / "data", out / "data" / "study_key.txt"
    if not (marker.exists() and marker.read_text("utf-8") == key):
        say(f"simulating the marketplace ({sim.n_users} users, {len(sim.countries)} countries)")
        write_marketplace(root, sim, overwrite=True)
        atomic_write_text(marker, key)
    # By content: a simulated folder changed by hand since is not the simulation the stored units saw.
    return require_valid(root, purpose="study", check_images=cfg.data.check_images), dataset_key(root)


def _check_inputs(cfg: StudyConfig) -> None:
    """Settings that name files: checked before anything is created."""
    if cfg.culture.hofstede_path:
        load_hofstede(cfg.culture.hofstede_path)
    if cfg.matching.enabled and cfg.matching.input and not Path(cfg.matching.input).is_file():
        raise ConfigError(f"matching.input {cfg.matching.input} is not a file")
    if cfg.data.preset:
        try:
            SimulationConfig(**{"seed": cfg.seed, **cfg.data.simulate})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"data.simulate: {err}") from None


def check_against_data(cfg: StudyConfig, ds: Dataset | None) -> None:
    """Settings that name things in the data (countries of ``rq5.targets`` and ``rq5.sources``, ``rq4.features``),
    checked right after the data are read and before anything is created. ``ds`` None: the simulated marketplace
    of ``data.simulate``."""
    if ds is None:
        sim = SimulationConfig(**{"seed": cfg.seed, **cfg.data.simulate})
        countries = sorted(sim.countries)
    else:
        users = ds.users if ds.users is not None else pd.DataFrame()
        countries = sorted(users["country"].dropna().astype(str).unique()) if "country" in users else []
    for key, named in (("rq5.targets", cfg.rq5.targets), ("rq5.sources", cfg.rq5.sources)):
        if cfg.rq5.enabled and isinstance(named, list):
            unknown = [c for c in named if c not in countries]
            if unknown:
                raise ConfigError(f"{key}: {unknown} not among the data's countries: {countries or 'none'}")
    if cfg.rq4.features and (cfg.rq4.enabled or cfg.calibration.replicates):
        from culturecart.culture.sensitivity import available_features

        if ds is None:  # the simulator's columns: those of a tiny marketplace of the same countries
            from culturecart.data.simulate import simulate_marketplace

            ds = simulate_marketplace(SimulationConfig(**{**sim.model_dump(), "n_users": 30, "n_products": 12}))
        available = available_features(ds)
        unknown = [f for f in cfg.rq4.features if f not in available]
        if unknown:
            raise ConfigError(f"rq4.features: {unknown} not available in this data; available: {available}")


def _profiles(cfg: StudyConfig, countries: list[str]) -> pd.DataFrame:
    base = with_extra_profiles(cfg.culture.hofstede_path)
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
    reads = [cfg.data.path, cfg.data.markets, cfg.matching.input if cfg.matching.enabled else None,
             cfg.culture.hofstede_path]
    check_not_an_input(out, reads, replaces=True)  # a study fills its folder: no input may lie inside it either
    check_output_dir(out, resume=True, reads=reads)
    _check_inputs(cfg)
    loaded = _user_data(cfg)
    markets = _markets_data(cfg)
    if markets is None:
        check_against_data(cfg, loaded[0] if loaded else None)
    with _cluster(cfg):  # a cluster that cannot be reached is found before anything is created
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False,
                                                                       allow_unicode=True))
        store = UnitStore(out / "units", cfg.parallel.n_jobs, cfg.parallel.backend)
        # The workers start (and import what the units run) while this process loads, simulates and encodes.
        with study_workers(cfg):
            if markets is not None:
                return _run_markets(cfg, markets, out, store, say, t0)
            return _run(cfg, out, loaded, store, say, t0)


@contextlib.contextmanager
def _cluster(cfg: StudyConfig):
    """Connect to the cluster named in ``parallel.address`` for the dask or ray backend (joblib uses it)."""
    p = cfg.parallel
    if p.backend == "dask" and p.address:
        with dask_client(p.address, p.connect_timeout, hint=" (parallel.connect_timeout sets the wait)"):
            yield
    elif p.backend == "ray" and p.address:
        import ray

        try:
            ray.init(address=p.address)
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise EnvironmentProblem(f"cannot reach the Ray cluster at {p.address} ({type(exc).__name__}: "
                                     f"{exc})") from None
        try:
            yield
        finally:
            ray.shutdown()
    else:
        yield


def _run(cfg: StudyConfig, out: Path, loaded, store: UnitStore, say, t0: float) -> StudyResults:
    ds, data_key = loaded or _simulated_data(cfg, out, say)
    say(f"data: {len(ds.events):,} events valid")
    enc = cfg.encoders.model_copy(update={"cache_dir": str(out / "cache")})
    # Local workers encode the images and texts (the files are on this machine; a cluster's workers may not see them).
    emb = encode_dataset(ds, enc, progress=False, n_jobs=cfg.parallel.n_jobs if cfg.parallel.backend == "loky" else 1,
                         keys=EMBEDDING_KEYS)  # the columns the features read
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
            "seed": cfg.seed}  # units that read the Hofstede profiles hold their values in their payload
    if not countries:
        res.notes.append("The data has no countries: RQ3-RQ5 were skipped.")
    if "image" not in data.modalities:
        res.notes.append("The data has no images: the image modality is absent from every analysis.")
    if 0 < len(countries) < 5:
        res.notes.append(f"Only {len(countries)} countries: culture-level correlations are very uncertain.")
    publish = _Publisher(out / "models", cfg, featurizer, enc, data, data_key, keep_text)

    ctx = StageContext(cfg, base, store, res, say, data=data, ds=ds, emb=emb, publish=publish, cache=enc.cache_dir)
    stages = []
    if cfg.rq1.enabled:
        stages.append(stage.rq1(ctx))
    if cfg.rq1.enabled and cfg.rq2.enabled:
        stages.append(stage.rq2(ctx))
    culture_ready = len(countries) >= 2
    if culture_ready and (cfg.rq3.enabled or cfg.rq4.enabled or cfg.rq5.enabled):
        ctx.profiles = _profiles(cfg, countries)
        missing = sorted(set(countries) - set(ctx.profiles.index))
        if missing:
            res.notes.append(f"No Hofstede profile for {missing}: the culture-conditioned model sees them as "
                             "missing, and they are left out of the Hofstede correlations.")
        ctx.split = make_split(data, by=cfg.culture.split.by, test_share=cfg.culture.split.test_share,
                               valid_share=cfg.culture.split.valid_share, seed=cfg.seed)
        if cfg.rq3.enabled:
            stages.append(stage.rq3(ctx))
        if cfg.rq4.enabled:
            stages.append(stage.rq4(ctx))
        if cfg.rq5.enabled:
            stages.append(stage.rq5(ctx))
        if cfg.calibration.replicates and (cfg.rq4.enabled or not cfg.calibration.auto):
            from culturecart.study.calibrate import calibration

            stages.append(calibration(ctx))
    elif cfg.rq3.enabled or cfg.rq4.enabled or cfg.rq5.enabled or not cfg.calibration.auto and \
            cfg.calibration.replicates:
        res.notes.append("Fewer than two countries: RQ3-RQ5 (culture analyses) and their calibration were skipped.")
    if cfg.matching.enabled:
        # The folds read the titles and images the study's encoding has just cached (the same files and texts).
        stages.append(stage.matching(ctx))
    tidy = drive(stages, store, say)
    publish.remove_stale()
    return _finish(res, tidy, store, out, say, t0)


def _finish(res: StudyResults, tidy: list[pd.DataFrame | None], store: UnitStore, out: Path, say,
            t0: float) -> StudyResults:
    """Write results.parquet, the tables, timings and the report."""
    from culturecart.report.findings import study_findings, write_findings
    from culturecart.report.page import write_report

    results = pd.concat([t for t in tidy if t is not None and not t.empty], ignore_index=True) if tidy else \
        pd.DataFrame(columns=TIDY_COLUMNS)
    with atomic_path(out / "results.parquet", suffix=".parquet") as tmp:
        results.to_parquet(tmp, index=False)
    for name, table in res.tables.items():
        atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
    res.tables["results"] = results
    res.seconds = time.perf_counter() - t0
    res.units_computed, res.units_reused = store.computed, store.reused
    if store.log:  # where the compute went (seconds per unit on its worker), for profiling a slow study
        atomic_write_text(out / "timings.json", json.dumps(store.log, indent=0))
    parallel = res.config.parallel  # the study's own local workers draw the figures
    local = parallel.n_jobs if parallel.backend == "loky" else 1
    findings = study_findings(res)
    write_findings(findings, out)
    report = write_report(res, out / "report.html", n_jobs=local, findings=findings)
    say(f"done: {store.computed} unit(s) computed, {store.reused} reused, {res.seconds:.0f}s")
    say(f"report: {report}")
    return res


def _run_markets(cfg: StudyConfig, markets, out: Path, store: UnitStore, say, t0: float) -> StudyResults:
    """RQ3 and RQ5 for rankers on a markets folder (see :mod:`culturecart.study.markets`)."""
    from culturecart.study import markets as ranking

    root = Path(cfg.data.markets)
    ratings = sum(len(markets[m].train) for m in markets.names)
    say(f"markets: {', '.join(markets.names)} ({ratings:,} training ratings; targets "
        f"{', '.join(ranking.targets_of(markets))})")
    countries = sorted({markets[m].country or m for m in markets.names})
    res = StudyResults(cfg, out, root.name, ratings, countries, [], kind="markets")
    res.notes.extend(ranking.caveats(markets))
    base = {"markets": dataset_key(root), "seed": cfg.seed}  # the culture scope's units hold the profiles
    tidy = drive(ranking.stages(cfg, markets, base, res, say), store, say)
    return _finish(res, tidy, store, out, say, t0)
