"""Reading a user's own flat table (``culturecart convert table``): CSV, TSV or Parquet, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from culturecart.data.adapters._common import read_csv
from culturecart.data.dataset import unreadable
from culturecart.errors import InvalidInputError, MissingInputError


def read_flat_table(path, limit: int | None = None) -> pd.DataFrame:
    """A flat table from ``.csv``, ``.csv.gz``, ``.tsv``, ``.tsv.gz`` or ``.parquet``;
    :class:`~culturecart.errors.InvalidInputError` naming the file and what is wrong with it."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        if not path.is_file():
            raise MissingInputError(f"table {path} " + ("is a folder; give the file" if path.exists()
                                                        else "does not exist"))
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # every reader failure here is a property of the file
            raise InvalidInputError(f"table {path}: {unreadable(path, exc)}") from exc
        return frame.head(limit) if limit else frame
    sep = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab")) else ","
    return read_csv(path, limit, [], sep=sep, low_memory=False)
