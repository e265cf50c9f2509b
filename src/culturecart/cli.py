"""The ``culturecart`` command line: study, simulate, validate, convert, encode, rq1 (and match).

Exit codes (``culturecart.errors``): 0 success, 1 invalid input, 2 usage or configuration error, 3 internal
error (a bug: the traceback goes to a file, and to the screen only with ``--debug`` or
``CULTURECART_DEBUG=1``). Results go to stdout, messages to stderr; user data is never read as console markup.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from culturecart.errors import EXIT_INTERNAL, CultureCartError, InvalidInputError, UsageError
from culturecart.progress import RowProgress

# markup=False: paths, ids and values from the user's data are printed as they are, never as rich markup.
console = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
out = Console(soft_wrap=True, highlight=False, markup=False)
DEBUG_KEY = "culturecart.debug"


def _error(message: str) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message))


class _WarningsOnce:
    """Shows each distinct warning once, as one plain line on stderr (no source line, no file:line)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message).strip()
        if text not in self.seen:
            self.seen.add(text)
            console.print(Text.assemble(("warning: ", "yellow"), text))


def _crash_report(exc: BaseException) -> Path | None:
    path = Path(tempfile.gettempdir()) / f"culturecart-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        path.write_text(f"culturecart {' '.join(sys.argv[1:])}\n\n"
                        + "".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return path


class GuardedGroup(TyperGroup):
    """Runs every command under the error contract: known errors -> their exit code, anything else -> 3."""

    def invoke(self, ctx: typer.Context):
        with warnings.catch_warnings():
            warnings.showwarning = _WarningsOnce()
            try:
                return super().invoke(ctx)
            except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own usage errors and exits
                raise
            except CultureCartError as exc:
                if _debug(ctx):
                    traceback.print_exc()
                _error(str(exc))
                raise typer.Exit(code=exc.exit_code) from None
            except KeyboardInterrupt:
                _error("interrupted; finished outputs are complete, nothing half-written was kept "
                       "(rerun the same command to resume a study)")
                raise typer.Exit(code=130) from None
            except BaseException as exc:  # a bug (EOFError too: click would turn it into a bare "Aborted!")
                if _debug(ctx):
                    traceback.print_exc()
                report = _crash_report(exc)
                where = f"; traceback written to {report}" if report else ""
                _error(f"internal error (a bug in culturecart, please report it): {type(exc).__name__}: {exc}"
                       f"{where}; rerun with --debug to see it here")
                raise typer.Exit(code=EXIT_INTERNAL) from None


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or os.environ.get("CULTURECART_DEBUG", "") not in ("", "0")


app = typer.Typer(help="Multimodal purchase prediction across cultures.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=GuardedGroup,
                  epilog="Exit codes: 0 ok, 1 invalid input, 2 usage or configuration error, 3 internal error "
                         "(traceback written to a file; --debug shows it).")


@app.callback()
def main(ctx: typer.Context,
         debug: Annotated[bool, typer.Option("--debug", help="show tracebacks (also CULTURECART_DEBUG=1)")] = False
         ) -> None:
    """Multimodal purchase prediction across cultures. Exit codes: 0 ok, 1 invalid input, 2 usage or config
    error, 3 internal error."""
    ctx.meta[DEBUG_KEY] = debug


@app.command()
def study(
    config: Annotated[Path | None, typer.Argument(help="study YAML (optional with --preset)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="output folder (rerun the same command to resume)")] = Path(
        "runs/study"),
    preset: Annotated[str | None, typer.Option(help="built-in study: twin (the simulated marketplace) or "
                                                    "twin-small")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="dotted override, e.g. --set rq5.seeds=2")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the final report path")] = False,
) -> None:
    """Run the whole study (RQ1-RQ5, matching when configured) and write results and report.html.

    On a markets folder (``data.markets``: ratings per market) it runs RQ3 and RQ5 for rankers."""
    from culturecart.parallel import release_workers
    from culturecart.study.config import load_config
    from culturecart.study.workers import study_workers

    if config is None and preset is None and not overrides:
        raise UsageError("give a study YAML file, --preset twin, --set data.path=DATASET or "
                         "--set data.markets=MARKETS_FOLDER")
    cfg = load_config(config, preset, overrides or [])
    with study_workers(cfg):  # the workers import and load their models while this process imports the study
        from culturecart.study.run import run_study

        result = run_study(cfg, out_dir, quiet=quiet)
    out.print(f"report: {result.out / 'report.html'}")
    release_workers()  # this process ends here: no need to wait for the workers' own exit


@app.command()
def calibrate(
    config: Annotated[Path | None, typer.Argument(help="the study's YAML (optional with --preset)")] = None,
    replicates: Annotated[int, typer.Option("--replicates", min=1, help="null replicates (no cultural "
                                                                        "differences); 100+ for a false-positive "
                                                                        "rate within +-0.05")] = 100,
    planted: Annotated[int | None, typer.Option("--planted", min=1, help="replicates per planted scale (default: "
                                                                         "a fifth of --replicates, at least 5)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="the study's output folder: its units are reused and the "
                                                        "report gains the calibration")] = Path("runs/study"),
    preset: Annotated[str | None, typer.Option(help="built-in study: twin or twin-small")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="dotted override, e.g. --set "
                                                                      "calibration.scales=[0.5,1]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the final report path")] = False,
) -> None:
    """How far to trust RQ3/RQ4: false-positive rates, power and minimum detectable effects on the study's own data.

    Redraws the purchase labels of the study's RQ4 rows from its fitted logit without country differences (the
    null) and with them scaled (power), reruns RQ3/RQ4 on each replicate, and adds "How far to trust these
    answers" to the study's report. Rerun to resume; more replicates add to the stored ones."""
    from culturecart.parallel import release_workers
    from culturecart.study.config import load_config
    from culturecart.study.run import run_study

    if config is None and preset is None and not overrides:
        raise UsageError("give a study YAML file, --preset twin or --set data.path=DATASET")
    extra = [f"calibration.replicates={replicates}"] + ([f"calibration.planted_replicates={planted}"] if planted else [])
    cfg = load_config(config, preset, [*(overrides or []), *extra])
    if cfg.data.markets:
        raise UsageError("calibrate needs an events dataset (data.preset or data.path): a markets folder has no "
                         "RQ4 logit to draw labels from")
    result = run_study(cfg, out_dir, quiet=quiet)
    out.print(f"report: {result.out / 'report.html'}")
    release_workers()  # this process ends here: no need to wait for the workers' own exit


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the dataset to")],
    countries: Annotated[str, typer.Option(help="comma-separated ISO 3166 alpha-2 codes")] = "KR,US,GB,DE,JP,FR,ES,ID",
    users: Annotated[int, typer.Option(help="number of users")] = 2000,
    products: Annotated[int, typer.Option(help="number of products (each listed 1-5 times)")] = 400,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    heterogeneity_scale: Annotated[float, typer.Option(help="multiplies every cultural rule weight")] = 1.0,
    effect_scale: Annotated[float, typer.Option(help="multiplies every base offer effect")] = 1.0,
    rules: Annotated[Path | None, typer.Option(help="utility rules YAML (default: the package's)")] = None,
    hofstede: Annotated[Path | None, typer.Option(help="Hofstede scores file for countries not shipped")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Write a simulated multi-country marketplace (the embedded default dataset) to OUT."""
    from pydantic import ValidationError

    from culturecart.config_files import explain_validation
    from culturecart.data.simulate import SimulationConfig, write_marketplace
    from culturecart.data.simulate.marketplace import SIMULATION_STEPS
    from culturecart.progress import StepProgress

    if fmt not in ("parquet", "csv"):
        raise UsageError(f"--format must be parquet or csv, not {fmt!r}")
    try:
        cfg = SimulationConfig(
            countries=countries.split(","), n_users=users, n_products=products, seed=seed,
            heterogeneity_scale=heterogeneity_scale, effect_scale=effect_scale,
            rules_path=str(rules) if rules else None, hofstede_path=str(hofstede) if hofstede else None)
    except ValidationError as exc:
        raise UsageError(explain_validation(exc, "invalid simulation settings")) from None
    try:
        with StepProgress("simulate", SIMULATION_STEPS + 1, quiet) as step:
            ds = write_marketplace(out_dir, cfg, fmt=fmt, overwrite=overwrite, progress=step)
    except KeyError as exc:  # a country without a Hofstede profile: the message says which and how to add one
        raise UsageError(str(exc.args[0])) from None
    summary = {t: len(ds.table(t)) for t in ds.tables()}
    out.print(f"wrote {out_dir}: " + ", ".join(f"{k} {v:,}" for k, v in summary.items())
              + f"; purchase rate {ds.events['purchased'].mean():.3%}")


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    no_images: Annotated[bool, typer.Option("--no-images", help="skip decoding image files")] = False,
    max_rows: Annotated[int, typer.Option(help="rows listed per problem", min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print problems as JSON lines (one object per line)")] = False,
    purpose: Annotated[str, typer.Option("--for", help="what the data must serve: auto (study when it has events, "
                                                       "matching when it has groups only), study, matching, any")
                       ] = "auto",
) -> None:
    """Check a dataset folder against the canonical schema; exit 1 and list every problem if invalid."""
    from culturecart.data.validate import PURPOSES, validate_dataset

    if purpose not in PURPOSES:
        raise UsageError(f"--for must be one of {list(PURPOSES)}, not {purpose!r}")
    problems = validate_dataset(path, check_images=not no_images, max_rows=max_rows, purpose=purpose)
    for p in problems:
        if as_json:
            # Plain write, not rich: one JSON object per line whatever the terminal width.
            sys.stdout.write(json.dumps(p.as_dict(), ensure_ascii=False) + "\n")
        else:
            out.print(Text.assemble(("✗ ", "red"), str(p)))
    if problems:
        console.print(f"{path}: {len(problems)} problem(s)")
        raise typer.Exit(code=InvalidInputError.exit_code)
    (console if as_json else out).print(Text.assemble(("✓ ", "green"), f"{path} is a valid culturecart dataset"))


@app.command()
def convert(
    fmt: Annotated[str, typer.Argument(help="source format (see --help of the adapters: shoppers, "
                                             "online-retail, amazon-m2, clothing-reviews, marc, shopee)")],
    src: Annotated[Path, typer.Argument(help="source file or folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="dataset folder to write")],
    images: Annotated[Path | None, typer.Option(help="image folder (shopee)")] = None,
    limit: Annotated[int | None, typer.Option(help="read only the first N source rows", min=1)] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Convert a public data format into a canonical dataset folder."""
    from culturecart.atomic import check_output_dir
    from culturecart.data.adapters import ADAPTERS, get_adapter
    from culturecart.data.validate import validate_dataset
    from culturecart.progress import StepProgress

    try:
        adapter = get_adapter(fmt)
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; valid: {sorted(ADAPTERS)}") from None
    check_output_dir(out_dir, overwrite=overwrite)
    with StepProgress(f"convert {fmt}", 3, quiet) as step:
        ds = adapter(src, images=images, limit=limit)
        step(f"read {src.name}: " + ", ".join(f"{t} {len(ds.table(t)):,}" for t in ds.tables()))
        problems = validate_dataset(ds)
        if problems:
            raise InvalidInputError(f"the {fmt} data converted from {src} does not validate; nothing written. "
                                    f"{len(problems)} problem(s):", problems)
        step("validated")
        ds.save(out_dir, overwrite=overwrite)
        step(f"written to {out_dir}")
    out.print(f"wrote {out_dir}: " + ", ".join(f"{t} {len(ds.table(t)):,}" for t in ds.tables()))


@app.command("encode")
def encode_cmd(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for .npz files (default PATH/embeddings)")] = None,
    config: Annotated[Path | None, typer.Option(help="encoders YAML (text, image, batch_size, ...)")] = None,
    text: Annotated[str | None, typer.Option(help="text encoder name (overrides the config)")] = None,
    image: Annotated[str | None, typer.Option(help="image encoder name (overrides the config)")] = None,
    cache: Annotated[Path | None, typer.Option(help="cache folder (default $CULTURECART_CACHE or ~/.cache/culturecart)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Embed a dataset's titles, review texts and images (cached by content hash)."""
    from culturecart.atomic import check_output_dir
    from culturecart.data.validate import require_valid
    from culturecart.encoders import EncodersConfig
    from culturecart.encoders.dataset import encode_dataset

    cfg = _encoders_config(EncodersConfig.from_yaml(config) if config else EncodersConfig(), text, image,
                           {"cache_dir": str(cache)} if cache else {})
    target = out_dir or path / "embeddings"
    ds = require_valid(path, purpose="any", check_images=False)  # unreadable images are masked and counted
    check_output_dir(target, resume=True)
    results = encode_dataset(ds, cfg, out=target, progress=False if quiet else None)
    for key, emb in results.items():
        out.print(f"{key}: {emb.encoder} {emb.mask.sum():,}/{len(emb.mask):,} rows encoded "
                  f"({emb.n_encoded:,} computed, the rest cached); {len(emb.errors)} unreadable")
    out.print(f"wrote {target}")


def _encoders_config(base, text: str | None, image: str | None, extra: dict | None = None):
    """``base`` with the encoder names given on the command line; :class:`UsageError` naming the valid ones."""
    from pydantic import ValidationError

    from culturecart.config_files import explain_validation
    from culturecart.encoders import REGISTRY, EncodersConfig

    updates = {k: {"name": v, "options": {}} for k, v in (("text", text), ("image", image)) if v}
    try:
        return EncodersConfig.model_validate({**base.model_dump(), **updates, **(extra or {})})
    except KeyError as exc:
        raise UsageError(f"{exc.args[0]}; encoders: {REGISTRY.names()}") from None
    except ValidationError as exc:
        raise UsageError(explain_validation(exc, f"invalid encoder settings; encoders: {REGISTRY.names()}")) from None


@app.command()
def rq1(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for rq1_table.csv")],
    models: Annotated[str, typer.Option(help="comma-separated ladder names")] = "logistic,lightgbm",
    subsets: Annotated[str, typer.Option(help="'all' modality subsets or 'full' (all modalities only)")] = "all",
    split: Annotated[str, typer.Option(help="user, session, item or time")] = "user",
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples per CI", min=10)] = 200,
    text: Annotated[str, typer.Option(help="text encoder")] = "use-m3",
    image: Annotated[str, typer.Option(help="image encoder")] = "effnet-lite0",
    seed: Annotated[int, typer.Option(help="seed of the split and the models")] = 0,
) -> None:
    """RQ1: every model x modality subset on one split; a tidy table with CIs and paired tests."""
    from culturecart.atomic import atomic_write_text, check_output_dir
    from culturecart.data.validate import require_valid
    from culturecart.encoders import EncodersConfig
    from culturecart.encoders.dataset import encode_dataset
    from culturecart.evaluate.grid import run_grid
    from culturecart.evaluate.splits import SPLITS, make_split
    from culturecart.models import build_features, model_spec, needs_raw_text
    from culturecart.models.featurizer import EMBEDDING_KEYS

    try:
        names = [model_spec(m).name for m in models.split(",")]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    cfg = _encoders_config(EncodersConfig(), text, image)
    if subsets not in ("all", "full"):
        raise UsageError(f"--subsets must be 'all' or 'full', not {subsets!r}")
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {list(SPLITS)}, not {split!r}")
    check_output_dir(out_dir, resume=True)
    ds = require_valid(path, purpose="study")
    data = build_features(ds, encode_dataset(ds, cfg, keys=EMBEDDING_KEYS), keep_text=needs_raw_text(names))
    parts = make_split(data, by=split, seed=seed)
    grid = run_grid(data, parts, models=names, subsets="all" if subsets == "all" else [data.modalities],
                    n_boot=n_boot, seed=seed, verbose=True)
    table = grid.table.assign(split=split)
    atomic_write_text(out_dir / "rq1_table.csv", table.to_csv(index=False))
    auc = table[table["metric"] == "roc_auc"].sort_values("value", ascending=False)
    for row in auc.head(10).itertuples():
        out.print(f"{row.model:>14} [{row.modalities}] AUC {row.value:.4f} ({row.ci_low:.4f}-{row.ci_high:.4f})")
    out.print(f"wrote {out_dir / 'rq1_table.csv'}")


@app.command()
def fit(
    path: Annotated[Path, typer.Argument(help="training dataset folder (canonical schema, with labels)")],
    out_dir: Annotated[Path, typer.Option("--out", help="predictor folder to write")],
    model: Annotated[str | None, typer.Option(help="ladder model name (default lightgbm, or the config's)")] = None,
    config: Annotated[Path | None, typer.Option(help="predictor YAML: model, modalities, scope, encoders, "
                                                     "embedding_dim, projection, seed, options")] = None,
    valid: Annotated[Path | None, typer.Option(help="validation dataset for early stopping (default: 10% of "
                                                    "the training users)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
) -> None:
    """Fit a purchase predictor (featurizer state + model) and save it as one folder."""
    from culturecart.atomic import check_output_dir
    from culturecart.config_files import load_model_file
    from culturecart.models import model_spec
    from culturecart.predictor import PredictorConfig, PurchasePredictor

    cfg = load_model_file(PredictorConfig, config, "predictor config") if config else PredictorConfig()
    if model is not None:
        try:
            cfg = cfg.model_copy(update={"model": model_spec(model).name})
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    check_output_dir(out_dir, overwrite=overwrite)
    predictor = PurchasePredictor(config=cfg).fit(path, valid)
    predictor.save(out_dir, overwrite=overwrite)
    out.print(f"fitted {cfg.model} ({cfg.scope}) on {predictor.info_['training_rows']:,} events; wrote {out_dir}")


@app.command()
def predict(
    path: Annotated[Path, typer.Argument(help="dataset folder to score (labels optional)")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="a predictor folder (culturecart fit, or a "
                                                                 "study's models/<name>)")],
    out_file: Annotated[Path, typer.Option("--out", help="scores file: .parquet, or .csv")] = Path("scores.parquet"),
    evaluate: Annotated[bool, typer.Option("--evaluate", help="also score against the labels; last line JSON")
                        ] = False,
    chunk_size: Annotated[int, typer.Option(help="events scored at a time (bounds memory)", min=1)] = 100_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Score every event of a dataset with a saved predictor: event keys + p_purchase."""
    from culturecart.atomic import atomic_path, check_output_file
    from culturecart.evaluate.metrics import get_metric
    from culturecart.predictor import PurchasePredictor

    if not out_file.name.endswith((".parquet", ".csv")):
        raise UsageError(f"--out must end in .parquet or .csv, not {out_file.name!r}")
    check_output_file(out_file)
    predictor = PurchasePredictor.load(model_dir)
    with RowProgress("predict", quiet, console) as progress:
        scores = predictor.score(path, chunk_size=chunk_size, progress=progress)
    with atomic_path(out_file) as tmp:
        if out_file.name.endswith(".csv"):
            scores.to_csv(tmp, index=False)
        else:
            scores.to_parquet(tmp, index=False)
    console.print(f"wrote {out_file} ({len(scores):,} rows)")
    if evaluate:
        from culturecart.data.dataset import Dataset

        events = Dataset.load(path).table("events")
        if "purchased" not in events.columns:
            raise InvalidInputError(f"--evaluate needs labels: {path} has no events.purchased column")
        y = events["purchased"].to_numpy()
        ok = scores["p_purchase"].notna().to_numpy()
        if len(set(y[ok])) < 2:
            raise InvalidInputError("--evaluate needs both label classes among the scored events")
        p = scores["p_purchase"].to_numpy()[ok]
        out.print(json.dumps({"auc": round(get_metric("roc_auc")(y[ok], p), 6),
                              "pr_auc": round(get_metric("pr_auc")(y[ok], p), 6), "rows": int(ok.sum())}))


xmarket_app = typer.Typer(help="Cross-market recommendation on the markets layout: split, fit, predict, score.",
                          no_args_is_help=True)
app.add_typer(xmarket_app, name="xmarket")


@xmarket_app.command("split")
def xmarket_split(
    src: Annotated[Path, typer.Argument(help="folder of <market>_5core.txt[.gz] rating files")],
    out_dir: Annotated[Path, typer.Option("--out", help="root folder of the markets layout to write")],
    negatives: Annotated[int, typer.Option(help="sampled negatives per held-out positive", min=1)] = 99,
    seed: Annotated[int, typer.Option(help="seed of the negative sampling")] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
) -> None:
    """Leave-one-out split per user by date (last = test, second last = valid) with sampled negatives."""
    from culturecart.atomic import check_output_dir
    from culturecart.ranking.markets import split_markets, write_markets

    check_output_dir(out_dir, overwrite=overwrite)
    markets = split_markets(src, negatives=negatives, seed=seed)
    write_markets(markets, out_dir, overwrite=overwrite)
    for name in markets.names:
        m = markets[name]
        out.print(f"{name}: {len(m.train):,} training ratings, {len(m.qrels['test']):,} test users")
    out.print(f"wrote {out_dir}")


@xmarket_app.command("fit")
def xmarket_fit(
    root: Annotated[Path, typer.Argument(help="markets layout root")],
    target: Annotated[str, typer.Option(help="target market")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="where the fitted model goes")],
    sources: Annotated[str, typer.Option(help="none (local), all (global), culture (Hofstede-weighted), or a "
                                              "comma-separated list of source markets")] = "none",
    model: Annotated[str, typer.Option(help="rerank (LambdaRank over every base ranker), popularity, itemknn, "
                                            "ease, als, bpr")] = "rerank",
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
) -> None:
    """Fit a ranker for the target market on the target plus the chosen sources."""
    from culturecart.atomic import check_output_dir
    from culturecart.ranking.crossmarket import MODELS, fit_ranker, save_model, scope_weights, tune_l2
    from culturecart.ranking.markets import read_markets

    if model not in MODELS:
        raise UsageError(f"unknown ranking model {model!r}; valid: {list(MODELS)}")
    check_output_dir(model_dir, overwrite=overwrite)
    markets = read_markets(root)
    markets[target]  # noqa: B018  (names the valid markets when the target is unknown)
    if sources in ("none", "all", "culture"):
        weights = scope_weights(markets, target, {"none": "local", "all": "global", "culture": "culture"}[sources])
    else:
        names = [s.strip() for s in sources.split(",") if s.strip()]
        unknown = [s for s in names if s not in markets.markets]
        if unknown:
            raise UsageError(f"unknown source market(s) {unknown}; markets: {markets.names}")
        weights = {s: 1.0 for s in names if s != target}
    params = {}
    if model == "ease" and "valid" in markets[target].runs and "valid" in markets[target].qrels:
        params["l2"] = tune_l2(markets, target, weights)  # chosen on the valid run, never on test
    ranker = fit_ranker(markets, target, weights, model, **params)
    save_model(model_dir, ranker, target, weights, model, overwrite=overwrite)
    out.print(f"fitted {model} for {target} with sources {weights or 'none'}; wrote {model_dir}")


@xmarket_app.command("predict")
def xmarket_predict(
    model_dir: Annotated[Path, typer.Option("--model-dir")],
    run: Annotated[Path, typer.Option("--run", help="a run file: userId, comma-separated candidate itemIds")],
    out_file: Annotated[Path, typer.Option("--out", help="scores TSV: userId, itemId, score")],
) -> None:
    """Score every candidate of a run (the competition's submission format)."""
    from culturecart.atomic import atomic_path, check_output_file
    from culturecart.errors import Problem
    from culturecart.ranking.crossmarket import load_model, score_run
    from culturecart.ranking.markets import read_tsv, run_table

    check_output_file(out_file)
    ranker, _ = load_model(model_dir)
    if not run.is_file():
        raise InvalidInputError(f"run file {run} " + ("is a folder" if run.exists() else "does not exist"))
    problems: list[Problem] = []
    table = read_tsv(run, ["userId", "itemIds"], problems, run.parent.name)
    table = run_table(table, run, problems, run.parent.name) if table is not None else None
    if problems:
        raise InvalidInputError.from_problems(problems, f"run file {run}")
    scores = score_run(ranker, table)
    with atomic_path(out_file) as tmp:
        scores.to_csv(tmp, sep="\t", index=False)
    out.print(f"wrote {out_file} ({len(scores):,} rows, {table['userId'].nunique():,} users)")


@xmarket_app.command("score")
def xmarket_score(
    scores_file: Annotated[Path, typer.Option("--scores", help="scores TSV: userId, itemId, score")],
    qrel: Annotated[Path, typer.Option("--qrel", help="qrel TSV: userId, itemId, rating (the held-out positives)")],
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="count qrel users without scores as "
                                                                         "misses")] = False,
) -> None:
    """nDCG@10, HR@10, MRR over the qrel users; the last line is JSON."""
    from culturecart.errors import Problem
    from culturecart.ranking.crossmarket import rank_scores, summarise
    from culturecart.ranking.markets import numeric_ratings, read_tsv

    problems: list[Problem] = []
    tables = {}
    for path, columns in ((scores_file, ["userId", "itemId", "score"]), (qrel, ["userId", "itemId", "rating"])):
        if not path.is_file():
            raise InvalidInputError(f"{path} " + ("is a folder" if path.exists() else "does not exist"))
        tables[path] = read_tsv(path, columns, problems, path.name)
    if problems:
        raise InvalidInputError.from_problems(problems, "the scores or qrel file")
    scores = tables[scores_file]
    scores["score"] = numeric_ratings(scores.rename(columns={"score": "rating"}), scores_file, problems,
                               scores_file.name)["rating"]
    if problems:
        raise InvalidInputError.from_problems(problems, f"scores file {scores_file}")
    result = summarise(rank_scores(scores, tables[qrel], allow_missing=allow_missing))
    result.pop("cold_users")
    out.print(f"nDCG@10 {result['ndcg@10']:.4f}  HR@10 {result['hr@10']:.4f}  MRR {result['mrr']:.4f}  "
              f"users {result['users']:,}")
    out.print(json.dumps(result))


match_app = typer.Typer(help="Shopee-style product matching: fit, predict, score.", no_args_is_help=True)
app.add_typer(match_app, name="match")


def _listings(path: Path, need_labels: bool = False):
    from culturecart.data.adapters.shopee import read_shopee

    frame = read_shopee(path)
    if need_labels and "label_group" not in frame:
        raise InvalidInputError(f"{path}: needs a label_group column (found {list(frame.columns)})")
    return frame


@match_app.command("fit")
def match_fit(
    train: Annotated[Path, typer.Option("--train", help="Shopee-format CSV with label_group")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="where the fitted model goes")],
    images: Annotated[Path | None, typer.Option("--images", help="folder of the listing images (optional)")] = None,
    text: Annotated[str, typer.Option(help="pretrained text encoder")] = "use-m3",
    inner_folds: Annotated[int, typer.Option(help="GroupKFold folds for threshold tuning", min=2)] = 3,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty model folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Learn the ArcFace head and every threshold (GroupKFold on label_group inside the training file)."""
    from culturecart.atomic import check_output_dir
    from culturecart.encoders import REGISTRY
    from culturecart.matching.pipeline import MatchingConfig, MatchingModel
    from culturecart.progress import StepProgress

    check_output_dir(model_dir, overwrite=overwrite)
    try:
        REGISTRY.resolve(text)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    _check_image_dir(images)
    frame = _listings(train, need_labels=True)
    model = MatchingModel(MatchingConfig(text_encoder=text, inner_folds=inner_folds, seed=seed))
    with StepProgress("match fit", model.fit_steps(frame) + 1, quiet) as step:
        model.fit(frame, images, progress=step)
        model.save(model_dir, overwrite=overwrite)
        step(f"written to {model_dir}")
    out.print(f"thresholds: {model.thresholds_}")
    out.print(f"wrote {model_dir}")


def _check_image_dir(images: Path | None) -> None:
    if images is not None and not images.is_dir():
        raise InvalidInputError(f"image folder {images} " + ("is a file, not a folder" if images.exists()
                                                             else "does not exist"))


@match_app.command("predict")
def match_predict(
    model_dir: Annotated[Path, typer.Option("--model-dir")],
    input_csv: Annotated[Path, typer.Option("--input", help="Shopee-format CSV (labels, if any, are not read)")],
    out_csv: Annotated[Path, typer.Option("--out", help="submission CSV: posting_id,matches")],
    images: Annotated[Path | None, typer.Option("--images")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Write posting_id,matches (space-separated ids, itself included, at most 50)."""
    from culturecart.atomic import atomic_write_text, check_output_file
    from culturecart.matching.pipeline import PREDICT_STEPS, MatchingModel
    from culturecart.progress import StepProgress

    check_output_file(out_csv)
    _check_image_dir(images)
    model = MatchingModel.load(model_dir)
    frame = _listings(input_csv).drop(columns=["label_group"], errors="ignore")
    with StepProgress("match predict", PREDICT_STEPS + 1, quiet) as step:
        sub = model.predict(frame, images, progress=step)
        atomic_write_text(out_csv, sub.to_csv(index=False))
        step(f"written to {out_csv}")
    out.print(f"wrote {out_csv} ({len(sub)} rows)")


@match_app.command("score")
def match_score(
    input_csv: Annotated[Path, typer.Option("--input", help="Shopee-format CSV with label_group")],
    submission: Annotated[Path, typer.Option("--submission", help="posting_id,matches CSV")],
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="score listings absent from the "
                                                                         "submission as matching nothing")] = False,
) -> None:
    """Mean per-row F1; the last line is a JSON object with f1 and rows."""
    from culturecart.matching.f1 import mean_f1, read_submission, true_matches

    frame = _listings(input_csv, need_labels=True)
    predicted = read_submission(submission, frame["posting_id"], allow_missing=allow_missing)
    truth = true_matches(frame["posting_id"], frame["label_group"])
    f1 = mean_f1(predicted, truth)
    missing = len(truth) - len(predicted)
    if missing:
        console.print(f"{missing} listing(s) absent from the submission were scored as matching nothing")
    out.print(json.dumps({"f1": round(f1, 6), "rows": len(truth), "missing": missing}))


if __name__ == "__main__":
    app()
