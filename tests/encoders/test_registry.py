from __future__ import annotations

import warnings

import pytest

from culturecart.encoders import ENCODERS, EncodersConfig, EncoderSpec, encoder_names
from culturecart.encoders.registry import create_encoder
from culturecart.errors import ConfigError
from culturecart.registry import Registry, UnknownNameError


def test_aliases_and_modalities():
    assert ENCODERS.resolve("USE").name == "use-m3"
    assert ENCODERS.resolve("image-default").name == "effnet-lite0"
    assert encoder_names("text") == ["char-hash", "e5-small", "use-m3"]
    with pytest.raises(UnknownNameError, match="choose one of: use-m3"):
        ENCODERS.resolve("bert")


class _Unavailable:
    def __init__(self, **_):
        from culturecart.encoders.base import EncoderUnavailable

        raise EncoderUnavailable("package fancy is not installed")


def test_missing_package_uses_fallback_and_says_so_once():
    reg = Registry("encoder", [EncoderSpec("fancy", f"{__name__}:_Unavailable", "needs a package", fallback="hash"),
                               EncoderSpec("hash", "culturecart.encoders.text_hash:CharHashEncoder", "fallback")])
    with pytest.warns(RuntimeWarning, match="'fancy' is unavailable.*fallback 'hash'"):
        enc = create_encoder("fancy", reg)
    assert enc.name == "char-hash"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second time must not warn again
        assert create_encoder("fancy", reg).name == "char-hash"


def test_no_fallback_raises():
    from culturecart.encoders.base import EncoderUnavailable

    reg = Registry("encoder", [EncoderSpec("only", f"{__name__}:_Unavailable", "d")])
    with pytest.raises(EncoderUnavailable):
        create_encoder("only", reg)


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="registered twice"):
        Registry("encoder", [EncoderSpec("a", "x:A", "d", aliases=("b",)), EncoderSpec("b", "x:B", "d")])


def test_config_from_yaml_names_bad_key(tmp_path):
    good = tmp_path / "enc.yaml"
    good.write_text("text: {name: e5, options: {prefix: passage}}\nbatch_size: 8\n")
    cfg = EncodersConfig.from_yaml(good)
    assert cfg.text.build().version == "1-passage" and cfg.batch_size == 8
    bad = tmp_path / "bad.yaml"
    bad.write_text("text: {name: nope}\n")
    with pytest.raises(ConfigError, match="unknown encoder 'nope'"):
        EncodersConfig.from_yaml(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("batchsize: 8\n")
    with pytest.raises(ValueError, match="batchsize"):
        EncodersConfig.from_yaml(typo)
