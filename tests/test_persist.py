"""The persistence contract's own behaviour beyond the per-kind suite: headers, refusals, ``culturecart info``."""

from __future__ import annotations

import json

import pytest

from culturecart.errors import InvalidInputError
from culturecart.persist import describe, load, read_header
from culturecart.ranking.rankers import Popularity
from culturecart.testing import toy_markets
from tests.helpers import invoke


@pytest.fixture
def folder(tmp_path):
    return Popularity().fit(toy_markets(), "aa", ["bb"]).save(tmp_path / "pop")


def test_the_header_says_what_the_folder_holds(folder):
    header = read_header(folder)
    assert header["kind"] == "ranker:popularity" and header["format"] == 1 and header["culturecart"]
    assert header["config"] == {"target_weight": 1.0} and header["state"] == {"target": "aa", "sources": {"bb": 1.0}}
    assert set(header["files"]) == {"arrays.npz"} and len(header["checksum"]) == 64


def test_an_unknown_kind_and_an_empty_folder_are_refused(folder, tmp_path):
    header = json.loads((folder / "ranker.json").read_text())
    header["kind"] = "ranker:bert4rec"
    from culturecart.persist import _header_checksum

    header["checksum"] = _header_checksum(header)
    (folder / "ranker.json").write_text(json.dumps(header))
    with pytest.raises(InvalidInputError, match="holds a 'ranker:bert4rec', a kind this culturecart .* does not know"):
        load(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no fitted culturecart object"):
        load(tmp_path / "empty")


def test_load_refuses_another_class_than_asked(folder):
    from culturecart.predictor import PurchasePredictor

    with pytest.raises(InvalidInputError, match="holds a ranker:popularity, not a PurchasePredictor"):
        PurchasePredictor.load(folder)


def test_info_prints_kind_versions_config_and_training(folder, tmp_path):
    res = invoke("info", folder, exit_code=0, names=("ranker:popularity (format 1", "target_weight: 1.0"))
    assert "training data fingerprint" in res.stdout
    as_json = json.loads(invoke("info", folder, "--json", exit_code=0).stdout)
    assert as_json == describe(folder) | {"folder": str(folder)}
    invoke("info", tmp_path / "nowhere", exit_code=1, names=("does not exist",))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ranker.json").write_text("{not json")
    invoke("info", tmp_path / "bad", exit_code=1, names=("ranker.json is damaged",))
