"""Small synthetic rating files in the XMarket format: three markets sharing items, with taste clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_market


@pytest.fixture(scope="session")
def rating_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ratings")
    for k, (market, users) in enumerate((("de", 40), ("fr", 30), ("uk", 50))):
        write_market(folder, market, users, seed=k)
    return folder
