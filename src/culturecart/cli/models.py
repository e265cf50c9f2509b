"""Model commands: ``rq1`` (the RQ1 grid), ``fit`` and ``predict`` (a saved purchase predictor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from culturecart.cli.app import console, out
from culturecart.encoders.registry import ENCODERS, encoder_entries
from culturecart.errors import UsageError
from culturecart.models.registry import MODELS
from culturecart.progress import RowProgress


def rq1(
    path: Annotated[Path, typer.Argument(help="dataset folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for rq1_table.csv")],
    models: Annotated[str, typer.Option(help=f"comma-separated models: {MODELS.choices()}")] = "logistic,lightgbm",
    subsets: Annotated[str, typer.Option(help="'all' modality subsets or 'full' (all modalities only)")] = "all",
    split: Annotated[str, typer.Option(help="user, session, item or time")] = "user",
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples per CI", min=10)] = 200,
    text: Annotated[str, typer.Option(help=f"text encoder: {ENCODERS.choices(encoder_entries('text'))}")] = "use-m3",
    image: Annotated[str, typer.Option(help=f"image encoder: {ENCODERS.choices(encoder_entries('image'))}")
                     ] = "effnet-lite0",
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

    names = [model_spec(m).name for m in models.split(",")]
    cfg = EncodersConfig().with_names(text, image)
    if subsets not in ("all", "full"):
        raise UsageError(f"--subsets must be 'all' or 'full', not {subsets!r}")
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {list(SPLITS)}, not {split!r}")
    check_output_dir(out_dir, resume=True, reads=[path])
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


def fit(
    path: Annotated[Path, typer.Argument(help="training dataset folder (canonical schema, with labels)")],
    out_dir: Annotated[Path, typer.Option("--out", help="predictor folder to write")],
    model: Annotated[str | None, typer.Option(help=f"model (default lightgbm, or the config's): {MODELS.choices()}")
                     ] = None,
    config: Annotated[Path | None, typer.Option(help="predictor YAML: model, modalities, scope, encoders, "
                                                     "embedding_dim, projection, seed, options")] = None,
    valid: Annotated[Path | None, typer.Option(help="validation dataset for early stopping (default: 10% of "
                                                    "the training users)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Fit a purchase predictor (featurizer state + model) and save it as one folder."""
    from culturecart.atomic import check_output_dir
    from culturecart.config_files import load_model_file
    from culturecart.models import model_spec
    from culturecart.predictor import FIT_STEPS, PredictorConfig, PurchasePredictor
    from culturecart.progress import StepProgress

    cfg = load_model_file(PredictorConfig, config, "predictor config") if config else PredictorConfig()
    if model is not None:
        cfg = PredictorConfig.model_validate({**cfg.model_dump(), "model": model_spec(model).name})
    check_output_dir(out_dir, overwrite=overwrite, reads=[path, valid, config])
    with StepProgress("fit", FIT_STEPS + 1, quiet) as step:
        predictor = PurchasePredictor(config=cfg).fit(path, valid, progress=step)
        predictor.save(out_dir, overwrite=overwrite)
        step(f"written to {out_dir}")
    out.print(f"fitted {cfg.model} ({cfg.scope}) on {predictor.info_['training_rows']:,} events; wrote {out_dir}")


def predict(
    path: Annotated[Path, typer.Argument(help="dataset folder to score (labels optional); its events one file or a "
                                              "folder events/ of Parquet files")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="a predictor folder (culturecart fit, or a "
                                                                 "study's models/<name>)")],
    out_file: Annotated[Path, typer.Option("--out", help="scores: a .parquet or .csv file, or a folder (a name "
                                                         "without suffix) of Parquet parts with manifest.json, "
                                                         "resumable")] = Path("scores.parquet"),
    evaluate: Annotated[bool, typer.Option("--evaluate", help="also score against the labels; last line JSON")
                        ] = False,
    chunk_size: Annotated[int, typer.Option("--batch-rows", "--chunk-size", help="events read and scored at a time "
                                                                                 "(bounds memory)", min=1)
                          ] = 250_000,
    address: Annotated[str | None, typer.Option(help="score on the Dask cluster at this scheduler address "
                                                     "(tcp://HOST:PORT; the workers must see the events files)")
                       ] = None,
    connect_timeout: Annotated[float, typer.Option(help="seconds to reach the --address scheduler", min=0.1)
                               ] = 10.0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty output folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Score every event of a dataset with a saved predictor: event keys + p_purchase.

    The events are streamed (never loaded whole): memory stays flat however many there are, and every user's
    history is the same as in a whole-table run.
    """
    from culturecart.atomic import check_output_dir, check_output_file
    from culturecart.data.event_files import event_files, event_rows
    from culturecart.predictor import PurchasePredictor, label_metrics
    from culturecart.scoring import score_to_folder, write_scores_file

    folder_out = out_file.suffix == ""
    if not folder_out and not out_file.name.endswith((".parquet", ".csv")):
        raise UsageError(f"--out must end in .parquet or .csv, or be a folder name without a suffix, not "
                         f"{out_file.name!r}")
    if folder_out:
        check_output_dir(out_file, overwrite=overwrite, reads=[path, model_dir])
    else:
        check_output_file(out_file, reads=[path, model_dir])
    predictor = PurchasePredictor.load(model_dir)
    seen: dict[str, list] = {"p": [], "y": []}

    def kept(frames):  # what --evaluate needs, then the frame without its label
        for frame in frames:
            if evaluate:
                seen["p"].append(frame["p_purchase"].to_numpy(np.float32))
                seen["y"].append(frame["purchased"].to_numpy(np.int8))
            yield frame.drop(columns="purchased", errors="ignore")

    with RowProgress("predict", quiet, console) as progress:
        if address is not None:
            from culturecart.parallel import dask_client

            with dask_client(address, connect_timeout, hint=" (--connect-timeout sets the wait)"):
                frames = kept(_dask_frames(predictor, path, evaluate, progress))
                rows = _write(frames, out_file, folder_out, overwrite)
        elif folder_out and not evaluate:
            rows = score_to_folder(predictor, path, out_file, batch_rows=chunk_size, overwrite=overwrite,
                                   progress=progress, reads=(model_dir,))["rows"]
        else:
            batches = predictor.iter_scores(path, batch_rows=chunk_size, with_labels=evaluate)
            frames = kept(_counted(batches, progress, event_rows(event_files(path)) if path.is_dir() else 0))
            rows = _write(frames, out_file, folder_out, overwrite) if folder_out else write_scores_file(frames,
                                                                                                      out_file)
    console.print(f"wrote {out_file} ({rows:,} rows)")
    if evaluate:
        import pandas as pd

        scores = pd.DataFrame({"p_purchase": np.concatenate(seen["p"]) if seen["p"] else np.empty(0),
                               "purchased": np.concatenate(seen["y"]) if seen["y"] else np.empty(0)})
        out.print(json.dumps(label_metrics(scores)))


def _counted(batches, progress, total: int):
    for batch in batches:
        progress(len(batch.scores), total)
        yield batch.scores


def _write(frames, out_file: Path, folder_out: bool, overwrite: bool) -> int:
    from culturecart.scoring import write_scores_file, write_scores_folder

    if folder_out:
        return write_scores_folder(frames, out_file, overwrite=overwrite)["rows"]
    return write_scores_file(frames, out_file)


def _dask_frames(predictor, path: Path, with_labels: bool, progress):
    """The scored partitions of the dataset's Parquet events, computed on the connected cluster, in order."""
    import dask.dataframe as dd
    from distributed import default_client

    from culturecart.data.event_files import event_files, event_rows

    files = event_files(path) if path.is_dir() else []
    if not files or any(f.suffix != ".parquet" for f in files):
        raise UsageError("--address scores Parquet events (events.parquet or a folder events/ of Parquet files); "
                         "convert CSV events first")
    events = dd.read_parquet([str(f) for f in files])
    if with_labels and "purchased" not in events.columns:
        raise UsageError(f"evaluating needs labels: the events of {path} have no purchased column")
    scored = predictor.predict_dask(events, path, with_labels=with_labels)
    total = event_rows(files)
    for future in default_client().compute(scored.to_delayed()):
        frame = future.result()
        progress(len(frame), total)
        yield frame
