"""encode_dataset: every column, and the same vectors whether one process or local workers encode them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from culturecart.data import Dataset
from culturecart.encoders import EncoderConfig, EncodersConfig
from culturecart.encoders.base import ImageReadError
from culturecart.encoders.dataset import PARTS_PER_WORKER, _columns, _parts, encode_dataset, load_embeddings


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key].vectors, b[key].vectors, equal_nan=True), key
        assert a[key].mask.tolist() == b[key].mask.tolist(), key
        assert a[key].errors == b[key].errors and a[key].encoder == b[key].encoder, key


def test_workers_give_the_serial_vectors_with_the_pretrained_encoders(sim_dir: Path, tmp_path: Path):
    ds = Dataset.load(sim_dir)
    cfg = EncodersConfig(batch_size=16)  # use-m3 and EfficientNet-Lite0 on ONNX, several parts per image column
    serial = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "one")}), progress=False)
    parallel = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "two")}), progress=False,
                              n_jobs=2)
    assert serial["items.image_path"].encoder.startswith("effnet-lite0")
    assert serial["items.title"].encoder.startswith("use-m3")
    _same(serial, parallel)
    assert all(e.n_encoded > 0 for e in parallel.values())
    again = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "two")}), progress=False, n_jobs=2)
    assert all(e.n_encoded == 0 for e in again.values())  # the workers wrote the cache
    _same(serial, again)


def test_parts_are_whole_batches_balanced_by_present_inputs(sim_dir: Path):
    columns = _columns(Dataset.load(sim_dir))
    cfg = EncodersConfig(batch_size=16)
    parts = _parts(columns, cfg, n_jobs=2)
    for c, col in enumerate(columns):
        mine = sorted((p.start, p.stop) for p in parts if p.column == c)
        assert mine[0][0] == 0 and mine[-1][1] == len(col.values)
        assert all(a[1] == b[0] for a, b in zip(mine, mine[1:], strict=False))  # contiguous, no row twice
        assert all(start % cfg.batch_size == 0 for start, _ in mine)
        batches = -(-len(col.values) // cfg.batch_size)
        assert len(mine) == (1 if col.kind == "text" else min(batches, PARTS_PER_WORKER * 2))
    assert [p.cost for p in parts] == sorted((p.cost for p in parts), reverse=True)  # longest first
    [reviews] = [c for c, col in enumerate(columns) if col.key == "reviews.image_path"]
    has = np.array([v is not None for v in columns[reviews].values])
    per_batch = np.add.reduceat(has, np.arange(0, len(has), cfg.batch_size))
    photos = [has[p.start:p.stop].sum() for p in parts if p.column == reviews]
    ideal = has.sum() / (PARTS_PER_WORKER * 2)
    # cut at whole batches by photos, not rows: each part within one batch's photos of an even share
    assert len(photos) > 1 and all(abs(n - ideal) <= per_batch.max() for n in photos)


def test_a_corrupt_image_in_a_worker_is_masked_or_named(sim_dir: Path, tmp_path: Path):
    root = tmp_path / "market"
    shutil.copytree(sim_dir, root)
    ds = Dataset.load(root)
    victim = ds.resolve(ds.items["image_path"].iloc[-1])
    victim.write_bytes(b"not a png")
    cfg = EncodersConfig(text=EncoderConfig(name="char-hash"), image=EncoderConfig(name="image-hash"),
                         cache_dir=str(tmp_path / "cache"), batch_size=16)
    emb = encode_dataset(ds, cfg, progress=False, n_jobs=2, out=tmp_path / "emb")
    last = len(ds.items) - 1
    assert not emb["items.image_path"].mask[last] and str(victim.name) in emb["items.image_path"].errors[last]
    assert emb["items.image_path"].mask[:last].all()
    ids, saved = load_embeddings(tmp_path / "emb" / "items.image_path.npz")
    assert ids.tolist() == ds.items["item_id"].astype(str).tolist() and saved.errors == emb["items.image_path"].errors
    with pytest.raises(ImageReadError, match=victim.name):
        encode_dataset(ds, cfg.model_copy(update={"on_image_error": "raise", "cache_dir": str(tmp_path / "c2")}),
                       progress=False, n_jobs=2)


def test_unicode_titles_encode_the_same_in_workers(sim_dir: Path, tmp_path: Path):
    root = tmp_path / "market"
    shutil.copytree(sim_dir, root)
    items = Dataset.load(root).items
    items.loc[:3, "title"] = ["Kaos Élite 👕", "ワンピース 夏", "платье летнее", None]
    items.to_parquet(root / "items.parquet", index=False)
    ds = Dataset.load(root)
    cfg = EncodersConfig(text=EncoderConfig(name="char-hash"), image=EncoderConfig(name="image-hash"))
    one = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "a")}), progress=False)
    two = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "b")}), progress=False, n_jobs=2)
    _same(one, two)
    assert not two["items.title"].mask[3] and two["items.title"].mask[:3].all()


def test_images_keep_their_rows_when_a_photo_is_missing_on_disk(sim_dir: Path, tmp_path: Path):
    root = tmp_path / "market"
    shutil.copytree(sim_dir, root)
    ds = Dataset.load(root)
    gone = ds.resolve(ds.items["image_path"].iloc[0])
    gone.unlink()
    Image.new("RGB", (8, 8)).save(ds.resolve(ds.items["image_path"].iloc[1]))  # a valid, different picture
    cfg = EncodersConfig(text=EncoderConfig(name="char-hash"), image=EncoderConfig(name="image-hash"),
                         cache_dir=str(tmp_path / "cache"), batch_size=8)
    one = encode_dataset(ds, cfg, progress=False)
    two = encode_dataset(ds, cfg.model_copy(update={"cache_dir": str(tmp_path / "c2")}), progress=False, n_jobs=2)
    _same(one, two)
    assert not two["items.image_path"].mask[0] and "does not exist" in two["items.image_path"].errors[0]


def test_warmed_encoders_are_the_ones_encoding_uses(sim_dir: Path, tmp_path: Path):
    from culturecart.encoders import shared_encoder
    from culturecart.encoders.dataset import warm_encoders

    cfg = EncodersConfig(text=EncoderConfig(name="char-hash", options={"dim": 64}), image=EncoderConfig(name="phash"),
                         cache_dir=str(tmp_path))
    warm_encoders(cfg)
    text = shared_encoder("char-hash", dim=64)
    assert text.dim == 64 and shared_encoder("image-hash") is shared_encoder("phash")
    emb = encode_dataset(Dataset.load(sim_dir), cfg, progress=False)
    assert emb["items.title"].dim == 64 and shared_encoder("char-hash", dim=64) is text
    warm_encoders(EncodersConfig(text=EncoderConfig(name="char-hash", options={"dim": -3})))  # fails: left to encoding
