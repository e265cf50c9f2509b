"""Small synthetic rating files in the XMarket format: three markets sharing items, with taste clusters."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest


def write_market(path: Path, market: str, users: int, seed: int, items: int = 60) -> None:
    """``<market>_5core.txt.gz``: each user rates 6-9 items, mostly from one of three item clusters."""
    rng = np.random.default_rng(seed)
    lines = ["userId itemId rate date"]
    for u in range(users):
        cluster = u % 3
        pool = [f"B{j:04d}" for j in range(items) if j % 3 == cluster]
        chosen = rng.choice(pool, size=rng.integers(6, 10), replace=False)
        for k, item in enumerate(chosen):
            lines.append(f"{market}{u:03d} {item} {rng.integers(1, 6)} 2020-01-{k + 1:02d}")
    with gzip.open(path / f"{market}_5core.txt.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def rating_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ratings")
    for k, (market, users) in enumerate((("de", 40), ("fr", 30), ("uk", 50))):
        write_market(folder, market, users, seed=k)
    return folder
