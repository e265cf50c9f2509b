"""Encode a canonical dataset's text and image columns; save and load the embeddings.

Columns encoded: ``items.title``, ``reviews.text`` (text encoder) and ``items.image_path``,
``reviews.image_path`` (image encoder), when present. Each result is saved as
``<out>/<table>.<column>.npz`` holding ``ids`` (the table's id column), ``vectors``, ``mask``,
``encoder`` and the per-row ``errors`` of the mask policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from culturecart.atomic import atomic_path
from culturecart.data.dataset import Dataset
from culturecart.encoders.config import EncodersConfig
from culturecart.encoders.encode import Embeddings, encode

TEXT_COLUMNS = (("items", "title", "item_id"), ("reviews", "text", "review_id"))
IMAGE_COLUMNS = (("items", "image_path", "item_id"), ("reviews", "image_path", "review_id"))


def encode_dataset(ds: Dataset, config: EncodersConfig | None = None,
                   out: str | Path | None = None, progress: bool | None = None) -> dict[str, Embeddings]:
    """Embeddings of every text and image column present, keyed ``"table.column"``."""
    cfg = config or EncodersConfig()
    results: dict[str, Embeddings] = {}
    text_enc = image_enc = None
    for columns, kind in ((TEXT_COLUMNS, "text"), (IMAGE_COLUMNS, "image")):
        for table, column, id_col in columns:
            frame = getattr(ds, table)
            if frame is None or column not in frame.columns:
                continue
            if kind == "text":
                text_enc = text_enc or cfg.text.build()
                enc, values = text_enc, frame[column].tolist()
            else:
                image_enc = image_enc or cfg.image.build()
                enc, values = image_enc, [ds.resolve(v) for v in frame[column].tolist()]
            emb = encode(values, enc, cache=cfg.cache_dir, batch_size=cfg.batch_size, max_chars=cfg.max_chars,
                         on_error=cfg.on_image_error if kind == "image" else "raise", progress=progress)
            key = f"{table}.{column}"
            results[key] = emb
            if out is not None:
                ids = frame[id_col].astype(str).to_numpy() if id_col in frame.columns else np.arange(len(frame)).astype(str)
                save_embeddings(Path(out) / f"{key}.npz", ids, emb)
    return results


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
