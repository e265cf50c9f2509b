"""Shared fixtures: a small simulated marketplace, and the shared real data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from culturecart.data import Dataset
from culturecart.data.simulate import write_marketplace
from culturecart.encoders.dataset import encode_dataset
from culturecart.evaluate.splits import make_split
from culturecart.models import build_features
from culturecart.paths import data_root
from tests.helpers import FAST_ENCODERS, MARKETS_FAST, SMALL, STUDY_FAST, write_market


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated dataset written once per test session (read-only for tests)."""
    out = tmp_path_factory.mktemp("sim") / "market"
    write_marketplace(out, SMALL)
    return out


@pytest.fixture
def shared_data():
    """Return the path of a shared real data set, skipping the test with the reason when absent."""

    def get(name: str) -> Path:
        path = data_root() / name
        if not path.exists():
            pytest.skip(f"real data {name!r} not found under {data_root()} (set CULTURECART_DATA)")
        return path

    return get


@pytest.fixture(scope="session")
def sim_features(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Modality features of the small simulated dataset (fast no-model encoders)."""
    ds = Dataset.load(sim_dir)
    cfg = FAST_ENCODERS.model_copy(update={"cache_dir": str(tmp_path_factory.mktemp("cache"))})
    return build_features(ds, encode_dataset(ds, cfg, progress=False), embedding_dim=16, keep_text=True)


@pytest.fixture(scope="session")
def sim_split(sim_features):
    return make_split(sim_features, by="user", seed=0)


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """One small study run (twin-small preset + STUDY_FAST), written once per test session."""
    from culturecart.encoders.cache import default_cache_dir
    from culturecart.study.config import load_config
    from culturecart.study.run import run_study

    out = tmp_path_factory.mktemp("study") / "run"
    # An empty default cache (the exported ONNX model shared), so tests can check what the study writes there.
    cache = tmp_path_factory.mktemp("default-cache")
    if (default_cache_dir() / "onnx").is_dir():
        (cache / "onnx").symlink_to(default_cache_dir() / "onnx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CULTURECART_CACHE", str(cache))
        results = run_study(load_config(preset="twin-small", overrides=STUDY_FAST), out, quiet=True)
    results.default_cache = cache
    return results




@pytest.fixture(scope="session")
def markets_dir(tmp_path_factory):
    """Three small synthetic markets (de, fr, jp) in the markets layout, 30 negatives per held-out item."""
    from culturecart.ranking.markets import split_markets, write_markets

    src = tmp_path_factory.mktemp("ratings-src")
    for k, (market, users) in enumerate((("de", 40), ("fr", 30), ("jp", 36))):
        write_market(src, market, users, seed=k)
    return write_markets(split_markets(src, negatives=30, seed=0), tmp_path_factory.mktemp("markets") / "xm")


@pytest.fixture(scope="session")
def market_study(markets_dir, tmp_path_factory):
    """One study run on ``markets_dir`` (RQ3 and RQ5 for the item-kNN ranker)."""
    from culturecart.study.config import load_config
    from culturecart.study.run import run_study

    cfg = load_config(overrides=[f"data.markets={markets_dir}", *MARKETS_FAST])
    return run_study(cfg, tmp_path_factory.mktemp("market-study") / "run", quiet=True)


SLOW_FIXTURES = {"small_study", "market_study"}  # whole studies: a test that uses one is an end-to-end run


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a whole-study fixture as ``slow``, so that ``pytest -m "not slow"`` really leaves
    the end-to-end runs out (CI runs them all)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
