"""Shopee Price Match Guarantee (Kaggle 2021): listings with title, image, phash and label_group.

Canonical form: ``items`` (item_id = posting_id, title, image_path, image_phash) and, when the file
has ``label_group``, ``groups``. Literal ``\\xHH`` byte escapes in titles are decoded to text. With
``images``, each listing whose file exists there gets an absolute ``image_path``; listings whose
file is absent keep a missing path (the image modality is masked for them) and the count is
reported in ``meta``; the folder is declared in ``meta['image_roots']``, the only place outside the
dataset folder its image paths may point to. A ``image_phash`` that is not 16 hex digits is an error naming the rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import read_csv
from culturecart.data.dataset import Dataset
from culturecart.data.text import unescape_byte_sequences
from culturecart.errors import InvalidInputError


def read_shopee(src: str | Path, limit: int | None = None) -> pd.DataFrame:
    """Read a Shopee-format CSV with ids as text, titles unescaped and phash checked."""
    path = Path(src)
    raw = read_csv(path, limit, ["posting_id", "image", "image_phash", "title"],
                   dtype={"posting_id": str, "image": str, "image_phash": str, "title": str, "label_group": str},
                   keep_default_na=False, na_values=[""])
    raw["title"] = raw["title"].fillna("").map(unescape_byte_sequences)
    phash = raw["image_phash"].fillna("")
    bad = ~phash.str.fullmatch(r"[0-9a-fA-F]{16}")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise InvalidInputError(f"{path}: image_phash must be 16 hex digits; bad rows {rows[:10].tolist()}"
                         + (f" (+{len(rows) - 10} more)" if len(rows) > 10 else "")
                         + f", e.g. {phash.iat[rows[0]]!r}")
    dup = raw["posting_id"].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        raise InvalidInputError(f"{path}: duplicate posting_id in rows {rows[:10].tolist()}, "
                         f"e.g. {raw['posting_id'].iat[rows[0]]!r}")
    return raw


def convert_shopee(src: str | Path, images: Path | None = None, limit: int | None = None) -> Dataset:
    """Convert a Shopee ``train.csv``-style file (with or without ``label_group``)."""
    raw = read_shopee(src, limit)
    image_path = pd.Series([None] * len(raw), dtype=object)
    missing_images = 0
    if images is not None:
        folder = Path(images).resolve()
        if not folder.is_dir():
            raise InvalidInputError(f"image folder {folder} does not exist")
        present = {p.name for p in folder.iterdir()}
        has = raw["image"].isin(present)
        image_path[has.to_numpy()] = [str(folder / n) for n in raw.loc[has, "image"]]
        missing_images = int((~has).sum())
    items = pd.DataFrame({"item_id": raw["posting_id"], "title": raw["title"], "image_path": image_path,
                          "image": raw["image"], "image_phash": raw["image_phash"]})
    groups = None
    if "label_group" in raw.columns:
        groups = pd.DataFrame({"item_id": raw["posting_id"], "label_group": raw["label_group"].astype(str)})
    return Dataset(items=items, groups=groups, meta={
        "name": "shopee-product-matching", "source": str(src),
        "images_missing": missing_images,
        **({"image_roots": [str(Path(images).resolve())]} if images is not None else {}),
        "notes": "Research-only data: never redistribute.",
    })
