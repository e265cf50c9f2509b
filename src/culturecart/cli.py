"""The ``culturecart`` command line: study, simulate, validate, convert, encode, rq1 (and match)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Multimodal purchase prediction across cultures.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code=2)


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
    """Run the whole study (RQ1-RQ5, matching when configured) and write results and report.html."""
    from culturecart.study.config import ConfigError, load_config
    from culturecart.study.run import StudyError, run_study

    if config is None and preset is None:
        raise _fail("give a study YAML file or --preset twin")
    try:
        cfg = load_config(config, preset, overrides or [])
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    try:
        result = run_study(cfg, out_dir, quiet=quiet)
    except StudyError as exc:
        raise _fail(str(exc)) from None
    out.print(f"report: {result.out / 'report.html'}", highlight=False, markup=False)


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
) -> None:
    """Write a simulated multi-country marketplace (the embedded default dataset) to OUT."""
    from pydantic import ValidationError

    from culturecart.data.simulate import SimulationConfig, write_marketplace

    try:
        cfg = SimulationConfig(
            countries=countries.split(","), n_users=users, n_products=products, seed=seed,
            heterogeneity_scale=heterogeneity_scale, effect_scale=effect_scale,
            rules_path=str(rules) if rules else None, hofstede_path=str(hofstede) if hofstede else None)
        ds = write_marketplace(out_dir, cfg, fmt=fmt, overwrite=overwrite)
    except (ValidationError, KeyError, ValueError, FileExistsError) as exc:
        raise _fail(str(exc)) from None
    summary = {t: len(ds.table(t)) for t in ds.tables()}
    out.print(f"wrote {out_dir}: " + ", ".join(f"{k} {v:,}" for k, v in summary.items())
              + f"; purchase rate {ds.events['purchased'].mean():.3%}", highlight=False)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    no_images: Annotated[bool, typer.Option("--no-images", help="skip decoding image files")] = False,
    max_rows: Annotated[int, typer.Option(help="rows listed per problem")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print problems as JSON lines")] = False,
) -> None:
    """Check a dataset folder against the canonical schema; exit 1 and list every problem if invalid."""
    from culturecart.data.validate import validate_dataset

    problems = validate_dataset(path, check_images=not no_images, max_rows=max_rows)
    for p in problems:
        if as_json:
            out.print(json.dumps({"table": p.table, "column": p.column, "rows": list(p.rows),
                                  "n_rows": p.n_rows, "file": p.file, "message": p.message},
                                 ensure_ascii=False), highlight=False)
        else:
            out.print(f"[red]✗[/] {p}", highlight=False)
    if problems:
        console.print(f"{path}: {len(problems)} problem(s)", highlight=False)
        raise typer.Exit(code=1)
    out.print(f"[green]✓[/] {path} is a valid culturecart dataset", highlight=False)


@app.command()
def convert(
    fmt: Annotated[str, typer.Argument(help="source format (see --help of the adapters: shoppers, "
                                             "online-retail, amazon-m2, clothing-reviews, marc, shopee)")],
    src: Annotated[Path, typer.Argument(help="source file or folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="dataset folder to write")],
    images: Annotated[Path | None, typer.Option(help="image folder (shopee)")] = None,
    limit: Annotated[int | None, typer.Option(help="read only the first N source rows")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
) -> None:
    """Convert a public data format into a canonical dataset folder."""
    from culturecart.data.adapters import ADAPTERS, get_adapter
    from culturecart.data.validate import validate_dataset

    try:
        adapter = get_adapter(fmt)
    except KeyError:
        raise _fail(f"unknown format {fmt!r}; valid: {sorted(ADAPTERS)}") from None
    try:
        ds = adapter(src, images=images, limit=limit)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    problems = validate_dataset(ds)
    if problems:
        for p in problems:
            console.print(f"✗ {p}", highlight=False)
        raise _fail(f"converted {fmt} data does not validate; nothing written")
    try:
        ds.save(out_dir, overwrite=overwrite)
    except FileExistsError as exc:
        raise _fail(str(exc)) from None
    out.print(f"wrote {out_dir}: " + ", ".join(f"{t} {len(ds.table(t)):,}" for t in ds.tables()),
              highlight=False)


@app.command("encode")
def encode_cmd(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for .npz files (default PATH/embeddings)")] = None,
    config: Annotated[Path | None, typer.Option(help="encoders YAML (text, image, batch_size, ...)")] = None,
    text: Annotated[str | None, typer.Option(help="text encoder name (overrides the config)")] = None,
    image: Annotated[str | None, typer.Option(help="image encoder name (overrides the config)")] = None,
    cache: Annotated[Path | None, typer.Option(help="cache folder (default $CULTURECART_CACHE or ~/.cache/culturecart)")] = None,
) -> None:
    """Embed a dataset's titles, review texts and images (cached by content hash)."""
    from culturecart.data.dataset import Dataset
    from culturecart.encoders import REGISTRY, EncodersConfig
    from culturecart.encoders.dataset import encode_dataset

    try:
        cfg = EncodersConfig.from_yaml(config) if config else EncodersConfig()
        updates = {k: {"name": v, "options": {}} for k, v in (("text", text), ("image", image)) if v}
        cfg = EncodersConfig.model_validate({**cfg.model_dump(), **updates,
                                             **({"cache_dir": str(cache)} if cache else {})})
    except (KeyError, ValueError) as exc:
        raise _fail(f"{exc}; encoders: {REGISTRY.names()}") from None
    target = out_dir or path / "embeddings"
    results = encode_dataset(Dataset.load(path), cfg, out=target)
    for key, emb in results.items():
        out.print(f"{key}: {emb.encoder} {emb.mask.sum():,}/{len(emb.mask):,} rows encoded "
                  f"({emb.n_encoded:,} computed, the rest cached); {len(emb.errors)} unreadable", highlight=False)
    out.print(f"wrote {target}", highlight=False)


@app.command()
def rq1(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for rq1_table.csv")],
    models: Annotated[str, typer.Option(help="comma-separated ladder names")] = "logistic,lightgbm",
    subsets: Annotated[str, typer.Option(help="'all' modality subsets or 'full' (all modalities only)")] = "all",
    split: Annotated[str, typer.Option(help="user, session, item or time")] = "user",
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples per CI")] = 200,
    text: Annotated[str, typer.Option(help="text encoder")] = "use-m3",
    image: Annotated[str, typer.Option(help="image encoder")] = "effnet-lite0",
    seed: Annotated[int, typer.Option(help="seed of the split and the models")] = 0,
) -> None:
    """RQ1: every model x modality subset on one split; a tidy table with CIs and paired tests."""
    from culturecart.atomic import atomic_write_text
    from culturecart.data.dataset import Dataset
    from culturecart.encoders import EncoderConfig, EncodersConfig
    from culturecart.encoders.dataset import encode_dataset
    from culturecart.evaluate.grid import run_grid
    from culturecart.evaluate.splits import make_split
    from culturecart.models import build_features, model_spec, needs_raw_text

    try:
        names = [model_spec(m).name for m in models.split(",")]
        cfg = EncodersConfig(text=EncoderConfig(name=text), image=EncoderConfig(name=image))
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if subsets not in ("all", "full"):
        raise _fail(f"--subsets must be 'all' or 'full', not {subsets!r}")
    ds = Dataset.load(path)
    data = build_features(ds, encode_dataset(ds, cfg), keep_text=needs_raw_text(names))
    try:
        parts = make_split(data, by=split, seed=seed)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    grid = run_grid(data, parts, models=names, subsets="all" if subsets == "all" else [data.modalities],
                    n_boot=n_boot, seed=seed, verbose=True)
    table = grid.table.assign(split=split)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "rq1_table.csv", table.to_csv(index=False))
    auc = table[table["metric"] == "roc_auc"].sort_values("value", ascending=False)
    for row in auc.head(10).itertuples():
        out.print(f"{row.model:>14} [{row.modalities}] AUC {row.value:.4f} ({row.ci_low:.4f}-{row.ci_high:.4f})",
                  highlight=False)
    out.print(f"wrote {out_dir / 'rq1_table.csv'}", highlight=False)


match_app = typer.Typer(help="Shopee-style product matching: fit, predict, score.", no_args_is_help=True)
app.add_typer(match_app, name="match")


def _listings(path: Path, need_labels: bool = False):
    from culturecart.data.adapters.shopee import read_shopee

    try:
        frame = read_shopee(path)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if need_labels and "label_group" not in frame:
        raise _fail(f"{path}: training needs a label_group column")
    return frame


@match_app.command("fit")
def match_fit(
    train: Annotated[Path, typer.Option("--train", help="Shopee-format CSV with label_group")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="where the fitted model goes")],
    images: Annotated[Path | None, typer.Option("--images", help="folder of the listing images (optional)")] = None,
    text: Annotated[str, typer.Option(help="pretrained text encoder")] = "use-m3",
    inner_folds: Annotated[int, typer.Option(help="GroupKFold folds for threshold tuning")] = 3,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Learn the ArcFace head and every threshold (GroupKFold on label_group inside the training file)."""
    from culturecart.matching.pipeline import MatchingConfig, MatchingModel

    frame = _listings(train, need_labels=True)
    try:
        model = MatchingModel(MatchingConfig(text_encoder=text, inner_folds=inner_folds, seed=seed)).fit(
            frame, images, progress=lambda m: console.print(m, markup=False))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    model.save(model_dir)
    out.print(f"thresholds: {model.thresholds_}", markup=False)
    out.print(f"wrote {model_dir}", markup=False)


@match_app.command("predict")
def match_predict(
    model_dir: Annotated[Path, typer.Option("--model-dir")],
    input_csv: Annotated[Path, typer.Option("--input", help="Shopee-format CSV (labels, if any, are not read)")],
    out_csv: Annotated[Path, typer.Option("--out", help="submission CSV: posting_id,matches")],
    images: Annotated[Path | None, typer.Option("--images")] = None,
) -> None:
    """Write posting_id,matches (space-separated ids, itself included, at most 50)."""
    from culturecart.atomic import atomic_write_text
    from culturecart.matching.pipeline import MatchingModel

    frame = _listings(input_csv).drop(columns=["label_group"], errors="ignore")
    try:
        model = MatchingModel.load(model_dir)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    sub = model.predict(frame, images)
    atomic_write_text(out_csv, sub.to_csv(index=False))
    out.print(f"wrote {out_csv} ({len(sub)} rows)", markup=False)


@match_app.command("score")
def match_score(
    input_csv: Annotated[Path, typer.Option("--input", help="Shopee-format CSV with label_group")],
    submission: Annotated[Path, typer.Option("--submission", help="posting_id,matches CSV")],
) -> None:
    """Mean per-row F1; the last line is a JSON object with f1 and rows."""
    import pandas as pd

    from culturecart.matching.f1 import mean_f1, true_matches

    frame = _listings(input_csv, need_labels=True)
    sub = pd.read_csv(submission, dtype=str, keep_default_na=False)
    if not {"posting_id", "matches"} <= set(sub.columns):
        raise _fail(f"{submission}: needs columns posting_id and matches, found {list(sub.columns)}")
    unknown = sorted(set(sub["posting_id"]) - set(frame["posting_id"]))
    if unknown:
        raise _fail(f"{submission}: {len(unknown)} posting_id(s) not in {input_csv}, e.g. {unknown[:3]}")
    truth = true_matches(frame["posting_id"], frame["label_group"])
    f1 = mean_f1(dict(zip(sub["posting_id"], sub["matches"].str.split(), strict=True)), truth)
    out.print(json.dumps({"f1": round(f1, 6), "rows": len(truth)}), markup=False)


if __name__ == "__main__":
    app()
