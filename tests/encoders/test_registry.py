from __future__ import annotations

import pytest

from culturecart.encoders import REGISTRY, EncodersConfig, EncoderSpec, EncoderUnavailable
from culturecart.encoders.registry import EncoderRegistry
from culturecart.encoders.text_hash import CharHashEncoder
from culturecart.errors import ConfigError


def test_aliases_and_modalities():
    assert REGISTRY.resolve("USE").name == "use-m3"
    assert REGISTRY.resolve("image-default").name == "effnet-lite0"
    assert REGISTRY.names("text") == ["char-hash", "e5-small", "use-m3"]
    with pytest.raises(KeyError, match="valid"):
        REGISTRY.resolve("bert")


def test_missing_package_uses_fallback_and_says_so_once():
    reg = EncoderRegistry()

    def unavailable(**_):
        raise EncoderUnavailable("package fancy is not installed")

    reg.register(EncoderSpec("fancy", "text", unavailable, "needs a package", fallback="hash"))
    reg.register(EncoderSpec("hash", "text", lambda **kw: CharHashEncoder(**kw), "fallback"))
    with pytest.warns(RuntimeWarning, match="'fancy' is unavailable.*fallback 'hash'"):
        enc = reg.create("fancy")
    assert enc.name == "char-hash"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second time must not warn again
        assert reg.create("fancy").name == "char-hash"


def test_no_fallback_raises():
    reg = EncoderRegistry()
    reg.register(EncoderSpec("only", "text", lambda **_: (_ for _ in ()).throw(EncoderUnavailable("x")), "d"))
    with pytest.raises(EncoderUnavailable):
        reg.create("only")


def test_duplicate_names_are_refused():
    reg = EncoderRegistry()
    reg.register(EncoderSpec("a", "text", CharHashEncoder, "d", aliases=("b",)))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(EncoderSpec("b", "text", CharHashEncoder, "d"))


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
