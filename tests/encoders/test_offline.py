"""Every encoder loads and encodes with the network blocked."""

from __future__ import annotations

import socket

import pytest

from culturecart.encoders import ENCODERS, encode
from culturecart.encoders.registry import create_encoder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_works_offline(name, no_network, product_images, tmp_path):
    enc = create_encoder(name, **({"onnx_dir": tmp_path} if name == "effnet-lite0" else {}))
    assert enc.name == name  # the real encoder, not a fallback
    inputs = product_images[:2] if enc.modality == "image" else ["kaos merah", "빨간색 티셔츠"]
    emb = encode(inputs, enc, cache=False)
    assert emb.mask.all() and emb.vectors.shape == (2, enc.dim)
