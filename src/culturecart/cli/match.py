"""``culturecart match``: Shopee-style product matching (fit, predict, score)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from culturecart.cli.app import console, examples, out, sub_app
from culturecart.encoders.registry import ENCODERS, encoder_entries
from culturecart.errors import InvalidInputError

app = sub_app("Shopee-style product matching: fit, predict, score.")


def _listings(path: Path, need_labels: bool = False):
    from culturecart.data.adapters.shopee import read_shopee

    frame = read_shopee(path)
    if need_labels and "label_group" not in frame:
        raise InvalidInputError(f"{path}: needs a label_group column (found {list(frame.columns)})")
    return frame


@app.command("fit", epilog=examples(
    "culturecart match fit --train $CULTURECART_DATA/shopee_pmg/train_dev.csv.gz --text char-hash --model-dir matcher"))
def match_fit(
    train: Annotated[Path, typer.Option("--train", help="Shopee-format CSV with label_group")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="where the fitted model goes")],
    images: Annotated[Path | None, typer.Option("--images", help="folder of the listing images (optional)")] = None,
    text: Annotated[str, typer.Option(help=f"text encoder: {ENCODERS.choices(encoder_entries('text'))}")] = "use-m3",
    inner_folds: Annotated[int, typer.Option(help="GroupKFold folds for threshold tuning", min=2)] = 3,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty model folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Learn the ArcFace head and every threshold (GroupKFold on label_group inside the training file)."""
    from culturecart.atomic import check_output_dir
    from culturecart.matching.model import MatchingModel
    from culturecart.progress import StepProgress

    check_output_dir(model_dir, overwrite=overwrite, reads=[train, images])
    model = MatchingModel(text_encoder=text, inner_folds=inner_folds, seed=seed)  # checks the encoder's name
    _check_image_dir(images)
    frame = _listings(train, need_labels=True)
    with StepProgress("match fit", model.fit_steps(frame) + 1, quiet) as step:
        model.fit(frame, images, progress=step)
        model.save(model_dir, overwrite=overwrite)
        step(f"written to {model_dir}")
    out.print("thresholds: " + ", ".join(f"{k} {v:g}" for k, v in model.thresholds_.items()))
    out.print(f"wrote {model_dir}")


def _check_image_dir(images: Path | None) -> None:
    if images is not None and not images.is_dir():
        raise InvalidInputError(f"image folder {images} " + ("is a file, not a folder" if images.exists()
                                                             else "does not exist"))


@app.command("predict", epilog=examples(
    "culturecart match predict --model-dir matcher --input listings.csv --out submission.csv"))
def match_predict(
    model_dir: Annotated[Path, typer.Option("--model-dir")],
    input_csv: Annotated[Path, typer.Option("--input", help="Shopee-format CSV (labels, if any, are not read)")],
    out_csv: Annotated[Path, typer.Option("--out", help="submission CSV: posting_id,matches")],
    images: Annotated[Path | None, typer.Option("--images")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Write posting_id,matches (space-separated ids, itself included, at most 50)."""
    from culturecart.atomic import atomic_write_text, check_output_file
    from culturecart.matching.model import PREDICT_STEPS, MatchingModel
    from culturecart.progress import StepProgress

    check_output_file(out_csv, reads=[model_dir, input_csv, images])
    _check_image_dir(images)
    model = MatchingModel.load(model_dir)
    frame = _listings(input_csv).drop(columns=["label_group"], errors="ignore")
    with StepProgress("match predict", PREDICT_STEPS + 1, quiet) as step:
        sub = model.predict(frame, images, progress=step)
        atomic_write_text(out_csv, sub.to_csv(index=False))
        step(f"written to {out_csv}")
    out.print(f"wrote {out_csv} ({len(sub)} rows)")


@app.command("score", epilog=examples(
    "culturecart match score --input listings.csv --submission submission.csv"))
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


