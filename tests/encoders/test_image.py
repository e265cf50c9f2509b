from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from culturecart.encoders import ImageReadError, encode, get_encoder
from culturecart.encoders.image_effnet import preprocess
from culturecart.encoders.probes import augmentation_top1


def test_augmented_copies_are_closest_to_their_original(effnet_onnx, product_images):
    assert augmentation_top1(effnet_onnx, product_images) >= 0.9


def test_onnx_matches_torch_reference(effnet_onnx, product_images):
    torch_enc = get_encoder("effnet-lite0", backend="torch")
    x = preprocess(product_images[:8])
    np.testing.assert_allclose(effnet_onnx.encode_array(x), torch_enc.encode_array(x), atol=1e-4, rtol=0)
    assert effnet_onnx.encode_array(x).shape == (8, 1280)


def test_release_memory_gives_back_the_batch_buffers_and_keeps_the_vectors(product_images):
    psutil = pytest.importorskip("psutil")  # installed with dask[distributed], a test dependency
    enc = get_encoder("effnet-lite0", backend="onnx")  # a session of its own: its arena holds one image's buffers
    x = preprocess(product_images[:32])
    rss = psutil.Process().memory_info
    before = rss().rss
    first = enc.encode_array(x)
    grown = rss().rss - before
    enc.release_memory()
    given_back = grown + before - rss().rss
    assert grown > 100 * 2**20  # ONNX Runtime's arena keeps the batch's activations after the run
    assert given_back > 0.8 * grown, (grown / 2**20, given_back / 2**20)
    np.testing.assert_array_equal(enc.encode_array(x), first)


def test_hash_fallback_is_deterministic(product_images):
    enc = get_encoder("image-hash")
    a, b = enc.encode(product_images[:5]), enc.encode(product_images[:5])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, enc.dim)


@pytest.fixture
def broken_files(tmp_path: Path, product_images) -> dict[str, Path]:
    data = product_images[0].read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(data[: len(data) // 3])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 not really a jpeg")
    return {"truncated": truncated, "garbage": garbage, "absent": tmp_path / "absent.png"}


@pytest.mark.parametrize("name", ["image-hash", "effnet-lite0"])
def test_unreadable_images_raise_naming_the_file(name, broken_files, product_images):
    enc = get_encoder(name)
    for path in broken_files.values():
        with pytest.raises(ImageReadError, match=path.name):
            encode([product_images[0], path], enc, cache=False)


def test_mask_policy_keeps_good_rows(broken_files, product_images):
    paths = [product_images[0], broken_files["truncated"], None, product_images[1], broken_files["absent"]]
    emb = encode(paths, "image-hash", cache=False, on_error="mask")
    assert emb.mask.tolist() == [True, False, False, True, False]
    assert set(emb.errors) == {1, 4} and "truncated.png" in emb.errors[1]
    assert np.isnan(emb.vectors[~emb.mask]).all()
