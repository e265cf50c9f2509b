from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from culturecart.encoders import get_encoder


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the tests' cache (and the exported ONNX file) out of the user's cache folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CULTURECART_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def effnet_onnx():
    enc = get_encoder("effnet-lite0", backend="onnx")
    assert enc.name == "effnet-lite0", "the pretrained image encoder is not installed"
    return enc


@pytest.fixture(scope="session")
def product_images(sim_dir: Path) -> list[Path]:
    """One rendered listing photo per distinct product (variants of a product would be near-duplicates)."""
    groups = pd.read_parquet(sim_dir / "groups.parquet").drop_duplicates("label_group").head(40)
    return [sim_dir / "images" / f"{i}.png" for i in groups["item_id"]]
