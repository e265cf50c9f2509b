"""Data commands: ``simulate``, ``validate``, ``encode``."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from culturecart.cli.app import console, out
from culturecart.encoders.registry import ENCODERS, encoder_entries
from culturecart.errors import InvalidInputError, UsageError

text_encoders, image_encoders = encoder_entries("text"), encoder_entries("image")


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


def encode_cmd(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for .npz files (default PATH/embeddings)")] = None,
    config: Annotated[Path | None, typer.Option(help="encoders YAML (text, image, batch_size, ...)")] = None,
    text: Annotated[str | None, typer.Option(help="text encoder (overrides the config): "
                                                  f"{ENCODERS.choices(text_encoders)}")] = None,
    image: Annotated[str | None, typer.Option(help="image encoder (overrides the config): "
                                                   f"{ENCODERS.choices(image_encoders)}")] = None,
    cache: Annotated[Path | None, typer.Option(help="cache folder (default $CULTURECART_CACHE or ~/.cache/culturecart)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Embed a dataset's titles, review texts and images (cached by content hash)."""
    from culturecart.atomic import check_not_an_input, check_output_dir
    from culturecart.data.validate import require_valid
    from culturecart.encoders import EncodersConfig
    from culturecart.encoders.dataset import encode_dataset

    base = EncodersConfig.from_yaml(config) if config else EncodersConfig()
    cfg = base.with_names(text, image, **({"cache_dir": str(cache)} if cache else {}))
    target = out_dir or path / "embeddings"
    ds = require_valid(path, purpose="any", check_images=False)  # unreadable images are masked and counted
    if target.resolve() != (path / "embeddings").resolve():  # the one folder of a dataset no command reads as data
        check_not_an_input(target, [path])
    check_output_dir(target, resume=True)
    results = encode_dataset(ds, cfg, out=target, progress=False if quiet else None)
    for key, emb in results.items():
        out.print(f"{key}: {emb.encoder} {emb.mask.sum():,}/{len(emb.mask):,} rows encoded "
                  f"({emb.n_encoded:,} computed, the rest cached); {len(emb.errors)} unreadable")
        if emb.errors:
            shown = "; ".join(list(emb.errors.values())[:3]) + (f" (+{len(emb.errors) - 3} more)"
                                                                if len(emb.errors) > 3 else "")
            warnings.warn(f"{key}: {len(emb.errors)} unreadable, masked: {shown}", stacklevel=1)
    out.print(f"wrote {target}")
