"""Items 6, 7 and 14: unreadable files are named (with byte offset and line for encodings); decompression
bombs and image paths that leave the dataset are invalid images."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pandas as pd
from PIL import Image

from culturecart.data.image_file import MAX_IMAGE_PIXELS
from tests.helpers import invoke


def test_latin1_csv_is_named_with_byte_offset_and_line(damaged, tmp_path):
    bad = damaged()
    users = pd.read_parquet(bad / "users.parquet")
    users.loc[1, "gender"] = "é"
    (bad / "users.parquet").unlink()
    users.to_csv(bad / "users.csv", index=False, encoding="latin-1")
    res = invoke("validate", bad, "--no-images", exit_code=1, names=("users.csv", "not UTF-8", "byte offset", "line 3"))
    assert "items" not in res.output  # only the file at fault is blamed
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1, names=("users.csv", "line 3"))


def test_truncated_parquet_is_named(damaged, tmp_path):
    bad = damaged()
    data = (bad / "events.parquet").read_bytes()
    (bad / "events.parquet").write_bytes(data[: len(data) // 2])
    res = invoke("validate", bad, exit_code=1, names=("events.parquet", "Parquet"))
    assert "users" not in res.output
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1, names=("events.parquet",))
    assert not (tmp_path / "out").exists()


def test_invalid_json_documents_are_named_with_line(damaged, tmp_path):
    for name in ("dataset.json", "truth.json"):
        bad = damaged(name=f"bad-{name}")
        (bad / name).write_text('{"name": "x",\n  oops}')
        invoke("validate", bad, exit_code=1, names=(name, "not valid JSON", "line 2"))
        invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / name, exit_code=1, names=(name,))


def _bomb_png(width: int = 15000, height: int = 15000) -> bytes:
    """A small PNG whose header declares width x height pixels (no need to build the real thing)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_decompression_bomb_is_an_invalid_image(damaged, tmp_path):
    bad = damaged()
    items = pd.read_parquet(bad / "items.parquet")
    (bad / items.loc[0, "image_path"]).write_bytes(_bomb_png())
    invoke("validate", bad, exit_code=1, names=("items.image_path", "225,000,000 pixels", f"limit of {MAX_IMAGE_PIXELS:,}", "row 0"))
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1, names=("225,000,000 pixels",))


def test_image_paths_outside_the_dataset_are_refused(damaged, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    for name, path in (("absolute", str(outside)), ("climbing", "../outside.png"), ("system", "/etc/passwd")):
        bad = damaged(name=name)
        items = pd.read_parquet(bad / "items.parquet")
        items.loc[2, "image_path"] = path
        items.to_parquet(bad / "items.parquet", index=False)
        invoke("validate", bad, exit_code=1, names=("items.image_path", "outside the dataset folder", "row 2"))


def test_declared_image_roots_are_allowed(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "a.jpg")
    src = tmp_path / "train.csv"
    src.write_text("posting_id,image,image_phash,title,label_group\na,a.jpg,94974f937d4c2433,Kaos,1\n")
    invoke("convert", "shopee", src, "--images", images, "--out", tmp_path / "ds", exit_code=0)
    invoke("validate", tmp_path / "ds", "--for", "matching", exit_code=0)
    assert Path(pd.read_parquet(tmp_path / "ds" / "items.parquet").loc[0, "image_path"]).is_absolute()


def test_an_image_just_above_the_limit_names_its_size(tmp_path):
    from culturecart.data.image_file import image_problem

    path = tmp_path / "big.png"
    path.write_bytes(_bomb_png(8000, 6000))  # 48 Mpx: above culturecart's limit, below PIL's own
    assert "8000 x 6000" in image_problem(path)
