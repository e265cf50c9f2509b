from __future__ import annotations

from pathlib import Path

import pytest

from culturecart.data import Dataset
from culturecart.encoders import EncoderConfig, EncodersConfig
from culturecart.encoders.dataset import encode_dataset
from culturecart.evaluate.splits import make_split
from culturecart.models import build_features

FAST_ENCODERS = EncodersConfig(text=EncoderConfig(name="char-hash"), image=EncoderConfig(name="image-hash"))


@pytest.fixture(scope="session")
def sim_features(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    ds = Dataset.load(sim_dir)
    cfg = FAST_ENCODERS.model_copy(update={"cache_dir": str(tmp_path_factory.mktemp("cache"))})
    return build_features(ds, encode_dataset(ds, cfg, progress=False), embedding_dim=16)


@pytest.fixture(scope="session")
def sim_split(sim_features):
    return make_split(sim_features, by="user", seed=0)
