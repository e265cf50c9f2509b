from __future__ import annotations

from pathlib import Path

import numpy as np

from culturecart.encoders import EmbeddingCache, encode, get_encoder
from culturecart.encoders.cache import content_key


def test_second_run_encodes_nothing(tmp_path: Path):
    enc = get_encoder("char-hash")
    texts = ["kaos merah", "rotes T-Shirt", None, "kaos merah", "赤いTシャツ"]
    first = encode(texts, enc, cache=tmp_path)
    assert first.n_encoded == 3  # duplicates within the input are encoded once
    second = encode(texts, enc, cache=tmp_path)
    assert second.n_encoded == 0
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert (tmp_path / "embeddings" / enc.cache_key()).is_dir()


def test_keys_ending_in_nul_bytes_round_trip(tmp_path: Path):
    # numpy's fixed-width bytes type drops trailing NULs; about 1 SHA-1 key in 256 ends in one.
    keys = [b"\x01" * 19 + b"\x00", b"\x00" * 20, b"\x02" * 20]
    EmbeddingCache(tmp_path, "e").put(keys, np.arange(6, dtype=np.float32).reshape(3, 2))
    found, vectors = EmbeddingCache(tmp_path, "e").get(keys)
    assert found.all() and vectors.tolist() == [[0, 1], [2, 3], [4, 5]]


def test_cache_survives_an_interrupted_write(tmp_path: Path):
    cache = EmbeddingCache(tmp_path, "enc-v1")
    cache.put([content_key("a")], np.ones((1, 4), np.float32))
    # A crash between the vectors file and the keys file leaves an orphan vectors file only.
    (cache.dir / "deadbeef.vec.npy").write_bytes(b"\x93NUMPY partial")
    (cache.dir / ".x.keys.npy.tmp").write_bytes(b"partial")
    fresh = EmbeddingCache(tmp_path, "enc-v1")
    found, vectors = fresh.get([content_key("a"), content_key("b")])
    assert found.tolist() == [True, False] and vectors.tolist() == [[1, 1, 1, 1]]
    assert len(fresh) == 1


def test_versions_do_not_share_entries(tmp_path: Path):
    a = get_encoder("char-hash", dim=64)
    b = get_encoder("char-hash", dim=32)
    encode(["x y z"], a, cache=tmp_path)
    assert encode(["x y z"], b, cache=tmp_path).n_encoded == 1


def test_images_are_keyed_by_content(tmp_path: Path, product_images):
    copy = tmp_path / "renamed.png"
    copy.write_bytes(product_images[0].read_bytes())
    enc = get_encoder("image-hash")
    encode([product_images[0]], enc, cache=tmp_path / "c")
    assert encode([copy], enc, cache=tmp_path / "c").n_encoded == 0


def test_memmap_output_bounds_memory(tmp_path: Path):
    texts = [f"item {i}" for i in range(300)]
    emb = encode(texts, "char-hash", cache=False, out=tmp_path / "v.npy", batch_size=50)
    on_disk = np.load(tmp_path / "v.npy", mmap_mode="r")
    np.testing.assert_array_equal(on_disk, emb.vectors)


class _Counting:
    """char-hash with a count of release_memory calls."""

    def __init__(self) -> None:
        self.inner, self.released = get_encoder("char-hash"), 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def release_memory(self) -> None:
        self.released += 1


def test_encode_releases_the_encoders_memory_once_after_encoding(tmp_path: Path):
    enc = _Counting()
    encode(["a", "b", "c"] * 30, enc, cache=tmp_path, batch_size=4)
    assert enc.released == 1  # once per call, not per batch
    encode(["a", "b", "c"], enc, cache=tmp_path)
    assert enc.released == 1  # everything came from the cache: nothing ran
