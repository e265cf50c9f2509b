"""``culturecart info FOLDER``: what a fitted folder holds (kind, versions, config, training fingerprint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from culturecart.cli.app import out


def info(
    folder: Annotated[Path, typer.Argument(help="a fitted folder: a predictor (culturecart fit, a study's "
                                                "models/<name>), a ranker (xmarket fit), a matching model")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object instead of lines")] = False,
) -> None:
    """Print a fitted folder's kind, format, the culturecart version that wrote it, its config and the fingerprint
    of its training data.

    Example: culturecart info models/lgbm
    """
    from culturecart.persist import describe

    about = describe(folder)
    if as_json:
        out.print(json.dumps(about, ensure_ascii=False))
        return
    out.print(f"{folder}: {about['kind']} (format {about['format']}, written by culturecart "
              f"{about['written_by'] or 'before 0.1.0'})")
    out.print(f"training data fingerprint: {about['training'] or 'not recorded'}")
    for key, value in about["config"].items():
        out.print(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
