"""A dataset in the canonical model: tables in a folder (Parquet or CSV) plus images and metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from culturecart.atomic import atomic_dir, atomic_path, atomic_write_text
from culturecart.data.schema import TABLES

META_FILE = "dataset.json"


@dataclass
class Dataset:
    """The five canonical tables (any may be absent) with the folder they came from.

    ``meta`` describes the data (name, source, what the label means); ``extras`` holds other
    JSON documents written beside the tables (``truth.json`` for the simulator); ``files`` holds
    binary files not yet on disk (relative path -> bytes, e.g. rendered images) that ``save`` writes.

    Example:
        >>> import pandas as pd
        >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}), meta={"name": "tiny"})
        >>> ds.tables()
        ['items']
    """

    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    groups: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    extras: dict[str, dict] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    root: Path | None = None

    def tables(self) -> list[str]:
        """Names of the tables present."""
        return [t for t in TABLES if getattr(self, t) is not None]

    def table(self, name: str) -> pd.DataFrame:
        """One table; raises ``KeyError`` naming the table when it is absent."""
        frame = getattr(self, name, None)
        if name not in TABLES or frame is None:
            raise KeyError(f"dataset {self.meta.get('name', '?')!r} has no {name!r} table")
        return frame

    def resolve(self, relative: str | None) -> Path | None:
        """Absolute path of an image path stored in a table (relative to the dataset folder)."""
        if relative is None or (isinstance(relative, float) and pd.isna(relative)) or relative == "":
            return None
        p = Path(relative)
        if p.is_absolute() or self.root is None:
            return p
        return self.root / p

    def save(self, out: str | Path, fmt: str = "parquet", overwrite: bool = False) -> Path:
        """Write the dataset to ``out`` atomically (tables, ``dataset.json``, extras, ``files``).

        Files already on disk under a previous ``root`` are not copied: image paths stay as they are.
        Returns the folder.
        """
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite) as tmp:
            self.write_tables(tmp, fmt)
            for rel, data in self.files.items():
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        self.root = out
        return out

    def write_tables(self, folder: Path, fmt: str = "parquet") -> None:
        """Write tables and JSON documents into an existing ``folder`` (each file atomically)."""
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', not {fmt!r}")
        for name in self.tables():
            with atomic_path(folder / f"{name}.{fmt}") as tmp:
                frame = self.table(name)
                if fmt == "parquet":
                    frame.to_parquet(tmp, index=False)
                else:
                    frame.to_csv(tmp, index=False)
        atomic_write_text(folder / META_FILE, json.dumps(self.meta, indent=2, ensure_ascii=False))
        for fname, doc in self.extras.items():
            atomic_write_text(folder / fname, json.dumps(doc, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read a dataset folder. Tables are read as stored; call ``validate_dataset`` to check them."""
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"dataset folder {root} does not exist")
        ds = cls(root=root)
        for name in TABLES:
            setattr(ds, name, read_table(root, name))
        meta = root / META_FILE
        if meta.exists():
            ds.meta = json.loads(meta.read_text(encoding="utf-8"))
        for doc in sorted(root.glob("*.json")):
            if doc.name != META_FILE:
                ds.extras[doc.name] = json.loads(doc.read_text(encoding="utf-8"))
        return ds


def table_file(root: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``root`` (Parquet preferred over CSV), or None."""
    for ext in (".parquet", ".csv", ".csv.gz"):
        candidate = root / f"{name}{ext}"
        if candidate.exists():
            return candidate
    return None


def read_table(root: Path, name: str) -> pd.DataFrame | None:
    """Read one table from a dataset folder, or None when the folder has no such table."""
    path = table_file(root, name)
    if path is None:
        return None
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # Ids stay text in CSV: "007" must not become 7.
    return pd.read_csv(path, dtype={"user_id": str, "item_id": str, "session_id": str,
                                    "review_id": str, "label_group": str})
