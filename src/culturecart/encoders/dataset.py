"""Encode a canonical dataset's text and image columns; save and load the embeddings.

Columns encoded: ``items.title``, ``reviews.text`` (text encoder) and ``items.image_path``,
``reviews.image_path`` (image encoder), when present. Each result is saved as
``<out>/<table>.<column>.npz`` holding ``ids`` (the table's id column), ``vectors``, ``mask``,
``encoder`` and the per-row ``errors`` of the mask policy.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from culturecart.atomic import atomic_path
from culturecart.data.dataset import Dataset
from culturecart.encoders.base import Encoder
from culturecart.encoders.cache import default_cache_dir
from culturecart.encoders.config import EncoderConfig, EncodersConfig
from culturecart.encoders.encode import Embeddings, _is_missing, encode
from culturecart.encoders.registry import shared_encoder

TEXT_COLUMNS = (("items", "title", "item_id"), ("reviews", "text", "review_id"))
IMAGE_COLUMNS = (("items", "image_path", "item_id"), ("reviews", "image_path", "review_id"))

# Rough single-thread seconds per present input on a 2-core laptop (EfficientNet-Lite0 on ONNX, USE-m3 on numpy),
# used only to hand the longest parts to the workers first (a worker builds each encoder once, or has it warm).
_COST = {"image": 0.012, "text": 0.001}
PARTS_PER_WORKER = 4  # image parts per worker: the last parts to finish are short, so the workers end together


@dataclass
class _Column:
    key: str  # "table.column"
    kind: str  # "text" or "image"
    values: list
    ids: np.ndarray


def _columns(ds: Dataset, keys: Collection[str] | None = None) -> list[_Column]:
    out = []
    for columns, kind in ((TEXT_COLUMNS, "text"), (IMAGE_COLUMNS, "image")):
        for table, column, id_col in columns:
            frame = getattr(ds, table)
            if frame is None or column not in frame.columns or (keys is not None and f"{table}.{column}" not in keys):
                continue
            values = frame[column].tolist()
            if kind == "image":
                values = [ds.resolve(v) for v in values]
            ids = frame[id_col].astype(str).to_numpy() if id_col in frame.columns else np.arange(len(frame)).astype(str)
            out.append(_Column(f"{table}.{column}", kind, values, ids))
    return out


def encode_dataset(ds: Dataset, config: EncodersConfig | None = None,
                   out: str | Path | None = None, progress: bool | None = None, n_jobs: int = 1,
                   keys: Collection[str] | None = None) -> dict[str, Embeddings]:
    """Embeddings of every text and image column present, keyed ``"table.column"`` (with ``keys``: of those
    among them, e.g. the ones a featurizer reads, ``culturecart.models.featurizer.EMBEDDING_KEYS``).

    ``n_jobs`` above 1 (or -1, every core) encodes in that many local worker processes
    (:func:`culturecart.parallel.parallel_map`, loky): each image column in row ranges of whole batches, each
    text column in one task (a text encoder's numbers may depend on what shares its batch). The workers build
    their own encoders on their share of the cores (once per process) and share the cache; the vectors equal
    one process's (the same batches; the default encoders give the same numbers on any thread count, tested).

    Example:
        >>> from culturecart.data import write_marketplace, SimulationConfig
        >>> import tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> ds = write_marketplace(tmp + "/m", SimulationConfig(n_users=20, n_products=8, seed=1))
        >>> cfg = EncodersConfig(text={"name": "char-hash"}, image={"name": "image-hash"}, cache_dir=tmp + "/c")
        >>> sorted(encode_dataset(ds, cfg, progress=False))
        ['items.image_path', 'items.title', 'reviews.image_path', 'reviews.text']
        >>> sorted(encode_dataset(ds, cfg, progress=False, keys=["items.title"]))
        ['items.title']
    """
    from culturecart.parallel import resolve_n_jobs

    cfg = config or EncodersConfig()
    columns = _columns(ds, keys)
    if resolve_n_jobs(n_jobs) > 1 and columns:
        results = _encode_in_workers(columns, cfg, resolve_n_jobs(n_jobs), progress)
    else:
        results, built = {}, {}
        for col in columns:
            if col.kind not in built:
                built[col.kind] = (cfg.text if col.kind == "text" else cfg.image).build()
            results[col.key] = encode(col.values, built[col.kind], cache=cfg.cache_dir, batch_size=cfg.batch_size,
                                      max_chars=cfg.max_chars, on_error=_on_error(cfg, col.kind),
                                      progress=progress)
    if out is not None:
        for col in columns:
            save_embeddings(Path(out) / f"{col.key}.npz", col.ids, results[col.key])
    return results


def _on_error(cfg: EncodersConfig, kind: str) -> str:
    return cfg.on_image_error if kind == "image" else "raise"


@dataclass
class _Part:
    column: int
    start: int
    stop: int
    cost: float


def _parts(columns: list[_Column], cfg: EncodersConfig, n_jobs: int) -> list[_Part]:
    """Image columns in up to ``PARTS_PER_WORKER * n_jobs`` row ranges of whole batches with about as many
    inputs each; texts whole: a text encoder's vectors may move in the last bit with what else its batch encodes,
    and which texts a batch still encodes depends on what other parts have cached meanwhile (images are encoded
    alike in any batch, tested). Longest first."""
    parts = []
    for c, col in enumerate(columns):
        present = np.cumsum([0] + [not _is_missing(v) for v in col.values])
        n = len(col.values)
        if col.kind == "text" or n <= cfg.batch_size:
            bounds = [0, n]
        else:
            edges = np.arange(0, n + cfg.batch_size, cfg.batch_size).clip(max=n)
            pieces = PARTS_PER_WORKER * n_jobs
            targets = present[-1] * np.arange(1, pieces) / pieces
            inner = edges[np.searchsorted(present[edges], targets)]
            bounds = sorted({0, n, *inner.tolist()})
        parts += [_Part(c, a, b, _COST[col.kind] * (present[b] - present[a])) for a, b in itertools.pairwise(bounds)]
    return sorted(parts, key=lambda p: -p.cost)


def _encode_in_workers(columns: list[_Column], cfg: EncodersConfig, n_jobs: int,
                       progress: bool | None) -> dict[str, Embeddings]:
    from culturecart.parallel import parallel_map
    from culturecart.progress import StepProgress

    parts = _parts(columns, cfg, n_jobs)
    # Resolved here: a worker started earlier may not see this process's CULTURECART_CACHE.
    user_cache = str(default_cache_dir())
    tasks = [((cfg.text if columns[p.column].kind == "text" else cfg.image).model_dump_json(),
              columns[p.column].values[p.start:p.stop], cfg.cache_dir or user_cache, user_cache, cfg.batch_size,
              cfg.max_chars, _on_error(cfg, columns[p.column].kind)) for p in parts]
    show = bool(progress) or (progress is None and sum(len(c.values) for c in columns) > 8 * cfg.batch_size)
    with StepProgress("encode", len(tasks), quiet=not show) as step:
        done = parallel_map(_encode_part, tasks, n_jobs=n_jobs, backend="loky",
                            on_done=lambda i, _: step(columns[parts[i].column].key))
    results = {}
    for c, col in enumerate(columns):
        mine = sorted((p.start, emb) for p, emb in zip(parts, done, strict=True) if p.column == c)
        results[col.key] = Embeddings(
            vectors=np.concatenate([e.vectors for _, e in mine]), mask=np.concatenate([e.mask for _, e in mine]),
            encoder=mine[0][1].encoder, errors={start + i: m for start, e in mine for i, m in e.errors.items()},
            n_encoded=sum(e.n_encoded for _, e in mine))
    return results


def _encode_part(spec: str, values: list, cache: str, user_cache: str, batch_size: int, max_chars: int,
                 on_error: str) -> Embeddings:
    os.environ["CULTURECART_CACHE"] = user_cache  # where encoders keep their own files (the ONNX export)
    return encode(values, _built(spec), cache=cache, batch_size=batch_size, max_chars=max_chars,
                  on_error=on_error, progress=False)


def warm_encoders(config: EncodersConfig) -> None:
    """Build this process's text and image encoders for :func:`encode_dataset`'s workers and load their models.

    For a worker started before the data exists (:func:`culturecart.parallel.started_workers`): the models load
    (and a fresh machine exports EfficientNet to ONNX) while the data is still being made. An encoder that
    cannot be built here is left to the encoding itself, which reports it.
    """
    for spec in (config.text, config.image):
        try:
            encoder = _built(spec.model_dump_json())
            if encoder.modality == "text":
                encoder.encode(["warm-up"])  # text models load on first use
        except Exception:  # noqa: BLE001 - the same error is raised (and reported) when encoding
            continue


def _built(spec: str) -> Encoder:
    """This process's encoder for a spec (JSON of an :class:`EncoderConfig`), built once: later parts reuse it."""
    config = EncoderConfig.model_validate_json(spec)
    return shared_encoder(config.name, **config.options)


def save_embeddings(path: Path, ids: np.ndarray, emb: Embeddings) -> None:
    """Write one embeddings file atomically."""
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, ids=ids.astype(str), vectors=emb.vectors, mask=emb.mask,
                 encoder=np.array(emb.encoder), errors=np.array(json.dumps(emb.errors)))


def load_embeddings(path: str | Path) -> tuple[np.ndarray, Embeddings]:
    """(ids, embeddings) from a file written by :func:`save_embeddings`."""
    with np.load(path, allow_pickle=False) as data:
        errors = {int(k): v for k, v in json.loads(str(data["errors"])).items()}
        return data["ids"], Embeddings(vectors=data["vectors"], mask=data["mask"], encoder=str(data["encoder"]),
                                       errors=errors)
