"""The fitted-object contract, checked for every kind registered in ``culturecart.persist.FITTED`` (as
scikit-learn's ``check_estimator``): a kind added to the registry is tested here without a new test, and a kind
without a tiny-data builder in ``culturecart.testing`` fails (it never skips)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from culturecart.errors import ConfigError, InvalidInputError
from culturecart.persist import FITTED, NotFittedError, load, read_header
from culturecart.testing import BUILDERS, build, state_digest

KINDS = FITTED.names()


@pytest.fixture(scope="module")
def built():
    cache: dict = {}

    def get(kind: str):
        if kind not in cache:
            assert kind in BUILDERS, f"fitted kind {kind!r} has no tiny-data builder in culturecart.testing.BUILDERS"
            cache[kind] = build(kind)
        return cache[kind]

    return get


@pytest.fixture(scope="module")
def saved(built, tmp_path_factory):
    cache: dict = {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = built(kind).fitted.save(tmp_path_factory.mktemp(kind.replace(":", "-")) / "fitted")
        return cache[kind]

    return get


def test_every_kind_has_a_builder():
    assert sorted(set(KINDS) - set(BUILDERS)) == []
    assert sorted(set(BUILDERS) - set(KINDS)) == []


def test_every_registered_model_and_ranker_class_is_a_fitted_kind():
    from culturecart.models.registry import MODELS
    from culturecart.ranking.registry import RANKERS

    classes = {FITTED.load(k) for k in KINDS}
    assert {e.load() for e in MODELS.entries} <= classes
    assert {e.load() for e in RANKERS.entries} <= classes


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_gives_identical_predictions(kind, built, saved):
    b = built(kind)
    before = np.asarray(b.predict(b.fitted), float)
    assert before.size and np.nanstd(before) > 0, "the predictions of the tiny fit must not be constant"
    folder = saved(kind)
    header = read_header(folder)
    assert header["kind"] == kind and header["format"] == type(b.fitted).format
    assert json.loads((folder / f"{kind.split(':')[0]}.json").read_text())["culturecart"]
    again = load(folder)
    assert type(again) is type(b.fitted)
    np.testing.assert_array_equal(np.asarray(b.predict(again), float), before)


@pytest.mark.parametrize("kind", KINDS)
def test_use_before_fit_is_a_clear_error(kind, built):
    fresh = built(kind).unfitted()
    with pytest.raises(NotFittedError, match="not fitted"):
        built(kind).predict(fresh)
    with pytest.raises(NotFittedError, match="not fitted"):
        fresh.save("never-written")


@pytest.mark.parametrize("kind", KINDS)
def test_predicting_changes_no_fitted_state(kind, built, saved):
    b = built(kind)
    for obj in (b.fitted, load(saved(kind))):
        before = state_digest(obj)
        b.predict(obj)
        b.predict(obj)
        assert state_digest(obj) == before


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_option_is_refused_with_the_valid_ones(kind):
    cls = FITTED.load(kind)
    with pytest.raises(ConfigError, match=r"no_such_option: unknown option \(valid: "):
        cls.make_config(no_such_option=1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_newer_format_is_refused_naming_both_versions(kind, saved, tmp_path):
    folder = tmp_path / "newer"
    shutil.copytree(saved(kind), folder)
    header_file = folder / f"{kind.split(':')[0]}.json"
    header = json.loads(header_file.read_text())
    header["format"] += 1
    from culturecart.persist import _header_checksum

    header["checksum"] = _header_checksum(header)
    header_file.write_text(json.dumps(header))
    with pytest.raises(InvalidInputError, match=rf"format {header['format']};.*reads {kind} format "
                                                rf"{header['format'] - 1} at most"):
        load(folder)


DEFECTS = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "truncated at half": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "one flipped byte": lambda p: p.write_bytes(_flip(p.read_bytes())),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_file_is_named(kind, defect, saved, tmp_path):
    """Every file of the folder (header included) with each defect: an InvalidInputError that names it."""
    source = saved(kind)
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file())
    for rel in files:
        folder = tmp_path / f"{defect}-{str(rel).replace('/', '_')}"
        shutil.copytree(source, folder)
        DEFECTS[defect](folder / rel)
        with pytest.raises(InvalidInputError) as caught:
            load(folder)
        message = str(caught.value)
        assert rel.name in message or f"{rel.parts[0]}" in message, f"{rel} ({defect}): {message}"
