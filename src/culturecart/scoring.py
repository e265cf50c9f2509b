"""Scoring events larger than memory with a fitted predictor: streamed batch by batch, or on a Dask cluster.

A dataset's events are one file or a folder ``events/`` of Parquet files (:mod:`culturecart.data.event_files`).
Scoring reads them twice, never whole:

1. **Validation and history pass.** Each batch is checked as the whole table would be (problems name the file and
   its rows, all reported before any scoring) and its sessions go into a
   :class:`~culturecart.models.history.SessionIndex` (32 bytes per session while gathering, 16 in the lookup): a
   user whose sessions are spread over batches and files gets exactly the history of a whole-table run.
2. **Scoring pass.** Each batch is featurised with the fitted state and the catalogue (users, items, reviews:
   read and validated once), scored and handed on or written.

Memory is bounded by the batch, the catalogue and the history lookup, not by the number of events.
:meth:`PurchasePredictor.iter_scores <culturecart.predictor.PurchasePredictor.iter_scores>` yields the scored batches;
:func:`score_to_folder` writes one Parquet file per input file (a row group per batch) with ``manifest.json``
(what was scored from which input), resumable per input file and published atomically at the end;
:func:`predict_dask` does the same over a Dask DataFrame, each worker loading the predictor once.

Example:
    >>> from culturecart.testing import tiny_predictor_and_data
    >>> predictor, folder = tiny_predictor_and_data()
    >>> sum(len(b.scores) for b in iter_scores(predictor, folder, batch_rows=50)) == len(predictor.score(folder))
    True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from culturecart.atomic import atomic_dir, atomic_path, atomic_write_text, check_output_dir
from culturecart.data.dataset import Dataset
from culturecart.data.event_files import event_files, event_rows, files_signature, iter_event_batches
from culturecart.data.schema import MAX_ROWS_SHOWN
from culturecart.data.validate import batch_problems, require_valid, require_valid_batch
from culturecart.encoders.dataset import encode_dataset
from culturecart.errors import InvalidInputError, Problem, UsageError
from culturecart.models.featurizer import EMBEDDING_KEYS
from culturecart.models.history import HISTORY_NAMES, HistoryLookup, summarise

KEY_COLUMNS = ("session_id", "user_id", "item_id")
DEFAULT_BATCH_ROWS = 250_000
HISTORY_COLUMNS = ["user_id", "session_id", "timestamp", "purchased"]  # what the history of a Dask run reads
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass
class ScoredBatch:
    """The scores of rows ``first_row`` ... of ``file``: the event keys present, ``p_purchase`` (and ``purchased``
    when asked for and present)."""

    file: Path
    first_row: int
    scores: pd.DataFrame


@dataclass
class _Catalogue:
    dataset: Dataset  # every table but the events, validated
    embeddings: dict
    files: list[Path]


def _catalogue(predictor, data: str | Path) -> _Catalogue:
    root = Path(data)
    files = event_files(root) if root.is_dir() else []
    catalogue = require_valid(Dataset.load(root, events=False), purpose="any", check_images=False)
    if not files:
        raise InvalidInputError(f"dataset {root} has no events to score (events.parquet, events.csv or a folder "
                                "events/ of Parquet files)")
    emb = encode_dataset(catalogue, predictor.config.encoders, progress=False, keys=EMBEDDING_KEYS)
    return _Catalogue(catalogue, emb, files)


def score_frame(predictor, catalogue: Dataset, embeddings: dict, events: pd.DataFrame,
                history: HistoryLookup | None, with_labels: bool = False) -> pd.DataFrame:
    """Scores of one validated batch of events: keys present and ``p_purchase`` (``purchased`` with labels)."""
    featurizer, model = predictor._fitted()
    events = events.reset_index(drop=True)
    hist = None
    if featurizer.history_:
        hist = history.lookup(events) if history is not None else \
            pd.DataFrame(np.nan, index=range(len(events)), columns=HISTORY_NAMES)  # unknown, not zero
    data = featurizer.transform(replace(catalogue, events=events), embeddings,
                                keep_text=predictor.info_.get("keep_text", False), history=hist)
    p = model.predict_proba(data) if len(events) else np.empty(0)
    out = events[[c for c in KEY_COLUMNS if c in events.columns]].astype(str).assign(p_purchase=p)
    if with_labels:
        out["purchased"] = events["purchased"].to_numpy()
    return out


def iter_scores(predictor, data: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS, with_labels: bool = False,
                files: list[Path] | None = None) -> Iterator[ScoredBatch]:
    """Scored batches of a dataset folder's events, file by file in path order (see the module docstring);
    ``files`` restricts the scoring pass to some of the event files (the first pass always reads all).

    The first pass validates every batch and gathers the sessions: bad input is reported, with every file and
    row found, before any scoring starts (:class:`~culturecart.errors.InvalidInputError`).
    """
    if batch_rows < 1:
        raise UsageError(f"batch_rows must be at least 1, not {batch_rows}")
    cat = _catalogue(predictor, data)
    if with_labels:
        _require_labels(cat.files)
    history = _first_pass(predictor, cat, batch_rows)
    for batch in iter_event_batches(cat.files if files is None else files, batch_rows):
        if not batch.frame.empty:
            yield ScoredBatch(batch.file, batch.first_row, score_frame(
                predictor, cat.dataset, cat.embeddings, batch.frame, history, with_labels))


def _first_pass(predictor, cat: _Catalogue, batch_rows: int) -> HistoryLookup | None:
    index = predictor._fitted()[0].history_index()
    problems: dict[tuple, Problem] = {}  # one problem per file, column and kind, its rows gathered over the batches
    for batch in iter_event_batches(cat.files, batch_rows):
        for p in batch_problems(batch.frame, cat.dataset, batch.file, batch.first_row):
            key = (p.table, p.column, p.message, p.file)
            old = problems.get(key)
            problems[key] = p if old is None else replace(
                old, rows=(old.rows + p.rows)[:MAX_ROWS_SHOWN], n_rows=old.n_rows + p.n_rows,
                values=tuple(dict.fromkeys(old.values + p.values))[:5])
        if index is not None:
            index.add(batch.frame)
    if problems:
        raise InvalidInputError.from_problems(list(problems.values()), f"the events of {cat.dataset.root}")
    return index.build() if index is not None else None


def _require_labels(files: list[Path]) -> None:
    import pyarrow.parquet as pq

    for f in files:
        names = pq.ParquetFile(f).schema_arrow.names if f.suffix == ".parquet" else pd.read_csv(f, nrows=0).columns
        if "purchased" not in names:
            raise UsageError(f"evaluating needs labels: {f} has no purchased column (score it without evaluating)")


# ---- a folder of scores, resumable per input file ----

def _partial(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


def score_to_folder(predictor, data: str | Path, out: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS,
                    overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
                    reads: tuple = ()) -> dict:
    """Score every event of ``data`` into the folder ``out``: ``part-NNNNN.parquet`` per input file (a row group
    per batch) and ``manifest.json``. Work goes into ``.<out>.partial`` beside it and replaces ``out`` only when
    every part is written; an interrupted run resumes there, keeping the parts whose inputs, predictor and batch
    size are unchanged (any change to any input starts over: a user's history reads every file). Returns the
    manifest. ``progress(rows_done_now, total)`` is called per batch.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    check_output_dir(out, overwrite=overwrite, reads=[data, *reads])
    cat_files = event_files(Path(data)) if Path(data).is_dir() else []
    signature = {"format": MANIFEST_FORMAT, "predictor": predictor.info_.get("training_fingerprint"),
                 "config": predictor.config.model_dump(mode="json"), "batch_rows": batch_rows,
                 "inputs": files_signature(cat_files)}
    work = _partial(out)
    manifest = _resume(work, signature)
    done = {p["input"] for p in manifest["parts"]}
    total = event_rows(cat_files)
    if progress and done:
        progress(sum(p["rows"] for p in manifest["parts"]), total)
    todo = [f for f in cat_files if str(f) not in done]
    writer, current, rows, part = None, None, 0, None
    try:
        for batch in iter_scores(predictor, data, batch_rows, files=todo) if todo else ():
            if batch.file != current:
                if writer is not None:
                    _finish_part(writer, work, part, manifest, current, rows)
                current, rows = batch.file, 0
                part = f"part-{cat_files.index(batch.file):05d}.parquet"
                writer = pq.ParquetWriter(work / f".{part}.writing", pa.Schema.from_pandas(batch.scores,
                                                                                            preserve_index=False))
            writer.write_table(pa.Table.from_pandas(batch.scores, preserve_index=False))
            rows += len(batch.scores)
            if progress:
                progress(len(batch.scores), total)
        if writer is not None:
            _finish_part(writer, work, part, manifest, current, rows)
            writer = None
        for f in todo:  # files with no rows: recorded, nothing written
            if str(f) not in {p["input"] for p in manifest["parts"]}:
                manifest["parts"].append({"input": str(f), "part": None, "rows": 0})
                atomic_write_text(work / MANIFEST, json.dumps(manifest, indent=1))
    finally:
        if writer is not None:
            writer.close()
    manifest["rows"] = sum(p["rows"] for p in manifest["parts"])
    manifest["complete"] = True
    atomic_write_text(work / MANIFEST, json.dumps(manifest, indent=1))
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    return manifest


def _finish_part(writer, work: Path, part: str, manifest: dict, source: Path, rows: int) -> None:
    writer.close()
    os.replace(work / f".{part}.writing", work / part)
    manifest["parts"].append({"input": str(source), "part": part, "rows": rows})
    atomic_write_text(work / MANIFEST, json.dumps(manifest, indent=1))


def _resume(work: Path, signature: dict) -> dict:
    """The manifest of an interrupted run with the same signature, or a fresh one (a stale folder is emptied)."""
    path = work / MANIFEST
    if path.is_file():
        try:
            old = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            old = None
        if old is not None and {k: old.get(k) for k in signature} == signature:
            keep = [p for p in old.get("parts", []) if p["part"] is None or (work / p["part"]).is_file()]
            return {**signature, "parts": keep}
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    fresh = {**signature, "parts": []}
    atomic_write_text(path, json.dumps(fresh, indent=1))
    return fresh


def read_scores(folder: str | Path) -> pd.DataFrame:
    """The scores a :func:`score_to_folder` run wrote, in input order (for data that fits in memory)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    parts = sorted(p["part"] for p in manifest["parts"] if p["part"])
    return pd.concat([pd.read_parquet(folder / p) for p in parts], ignore_index=True) if parts else pd.DataFrame()


# ---- writing streamed scores ----

def write_scores_file(frames: Iterable[pd.DataFrame], out: str | Path) -> int:
    """Write scored frames into one ``.parquet`` file (a row group per frame) or ``.csv`` file, published atomically
    when the last frame is in; returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    rows = 0
    with atomic_path(out) as tmp:
        writer = None
        try:
            for frame in frames:
                if out.suffix == ".csv":
                    frame.to_csv(tmp, mode="a", header=rows == 0, index=False)
                else:
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                rows += len(frame)
            if rows == 0 and out.suffix == ".csv":
                tmp.write_text("", encoding="utf-8")
        finally:
            if writer is not None:
                writer.close()
        if writer is None and out.suffix != ".csv":
            pd.DataFrame({c: pd.Series(dtype=object) for c in KEY_COLUMNS}).assign(
                p_purchase=pd.Series(dtype=float)).to_parquet(tmp, index=False)
    return rows


def write_scores_folder(frames: Iterable[pd.DataFrame], out: str | Path, overwrite: bool = False,
                        source: str = "partition") -> dict:
    """Write scored frames as ``part-NNNNN.parquet`` files with ``manifest.json`` into the folder ``out``,
    published atomically (the Dask path: one part per partition)."""
    parts = []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for k, frame in enumerate(frames):
            name = f"part-{k:05d}.parquet"
            frame.to_parquet(tmp / name, index=False)
            parts.append({"input": f"{source} {k}", "part": name, "rows": len(frame)})
        manifest = {"format": MANIFEST_FORMAT, "parts": parts, "rows": sum(p["rows"] for p in parts),
                    "complete": True}
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=1))
    return manifest


# ---- Dask ----

def folder_bytes(folder: Path) -> bytes:
    """A predictor folder as one tar archive (sent to workers that do not share this machine's disk)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


_LOADED: dict[str, Any] = {}  # per worker process: predictors by the digest of their bytes


def _worker_predictor(cls, blob: bytes, digest: str):
    if digest not in _LOADED:
        target = Path(tempfile.mkdtemp(prefix="culturecart-predictor-"))
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
            tar.extractall(target, filter="data")
        _LOADED[digest] = cls.load(target)
    return _LOADED[digest]


def _score_partition(frame: pd.DataFrame, cls, blob: bytes, digest: str, catalogue: Dataset, history,
                     with_labels: bool = False, partition_info: dict | None = None) -> pd.DataFrame:
    predictor = _worker_predictor(cls, blob, digest)
    where = f"partition {partition_info['number']}" if partition_info else "a partition"
    events = require_valid_batch(frame, catalogue, where, 0)
    emb = _worker_embeddings(predictor, catalogue, digest)
    return score_frame(predictor, catalogue, emb, events, history, with_labels)


_EMBEDDINGS: dict[str, dict] = {}


def _worker_embeddings(predictor, catalogue: Dataset, digest: str) -> dict:
    if digest not in _EMBEDDINGS:
        _EMBEDDINGS[digest] = encode_dataset(catalogue, predictor.config.encoders, progress=False,
                                             keys=EMBEDDING_KEYS)
    return _EMBEDDINGS[digest]


def predict_dask(predictor, events, catalogue: Dataset | str | Path, with_labels: bool = False):
    """Scores of a Dask DataFrame of events (canonical columns) as a lazy Dask DataFrame of the event keys and
    ``p_purchase``, one output partition per input partition, equal to the local run's scores.

    ``catalogue``: the dataset folder or :class:`Dataset` holding users, items and reviews (its events are not
    read). The history pass runs on the workers, which send back each partition's sessions in compact form (32
    bytes per session); the predictor travels as bytes (no shared disk needed) and each worker loads it once.
    Run it with a ``distributed.Client`` set as default to use a cluster.
    """
    import dask
    from dask import delayed

    with tempfile.TemporaryDirectory(prefix="culturecart-dask-") as tmp:
        predictor.save(Path(tmp) / "predictor")
        blob = folder_bytes(Path(tmp) / "predictor")
    digest = hashlib.sha256(blob).hexdigest()[:16]
    ds = catalogue if isinstance(catalogue, Dataset) else Dataset.load(Path(catalogue), events=False)
    ds = require_valid(replace(ds, events=None), purpose="any", check_images=False)
    columns = [c for c in HISTORY_COLUMNS if c in events.columns]
    summaries = dask.compute(*[delayed(summarise)(part) for part in events[columns].to_delayed()])
    index = predictor._fitted()[0].history_index()
    history = None
    if index is not None:
        for summary in summaries:
            index.add_summary(summary)
        history = index.build()
    keys = [c for c in KEY_COLUMNS if c in events.columns]
    meta = pd.DataFrame({**{c: pd.Series(dtype=object) for c in keys}, "p_purchase": pd.Series(dtype=float)})
    if with_labels:
        meta["purchased"] = pd.Series(dtype=events["purchased"].dtype)
    # One graph key each: every worker receives the predictor, catalogue and history once, not once per task.
    return events.map_partitions(_score_partition, type(predictor), delayed(blob), digest, delayed(ds),
                                 delayed(history), with_labels, meta=meta)
