"""Encoder quality and speed on this machine, all measured in this run.

Text: cross-language top-1 on the 7-language probe titles, throughput on simulated titles + reviews.
Image: augmentation top-1 and throughput on rendered thumbnails; the ONNX back end against the
torch reference (same network, same inputs). Fallbacks are measured beside the defaults.
Usage: python benchmarks/encoders.py [--texts 2000] [--images 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import emit, peak_rss_mb

from culturecart.data import SimulationConfig, write_marketplace
from culturecart.encoders import encode, get_encoder
from culturecart.encoders.image_effnet import preprocess
from culturecart.encoders.probes import augmentation_top1, cross_language_top1


def rate(n: int, fn) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cc-enc-"))
    ds = write_marketplace(tmp / "market", SimulationConfig(n_users=400, n_products=300, seed=0))
    texts = (ds.items["title"].tolist() + ds.reviews["text"].tolist()) * 3
    texts = [f"{t} #{i}" for i, t in enumerate(texts[: args.texts])]  # distinct: nothing deduplicated
    paths = [tmp / "market" / p for p in ds.items["image_path"]][: args.images]
    distinct = pd.Series(ds.groups.drop_duplicates("label_group")["item_id"]).head(60)
    probe_images = [tmp / "market" / "images" / f"{i}.png" for i in distinct]
    figures: dict[str, object] = {"text_encoder": "use-m3", "image_encoder": "effnet-lite0 (onnx)"}

    for name, key in (("use-m3", ""), ("e5-small", "e5_"), ("char-hash", "fallback_")):
        enc = get_encoder(name)
        figures[f"{key}xling_top1"] = round(cross_language_top1(enc)["top1"], 4)
        figures[f"{key}texts_per_s"] = round(rate(len(texts), lambda e=enc: encode(texts, e, cache=False,
                                                                                     batch_size=128)), 1)
    cache = tmp / "cache"
    use = get_encoder("use-m3")
    encode(texts, use, cache=cache, batch_size=128)
    t0 = time.perf_counter()
    again = encode(texts, use, cache=cache, batch_size=128)
    figures["cached_texts_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    figures["cached_rerun_encoded"] = again.n_encoded

    onnx = get_encoder("effnet-lite0", backend="onnx", onnx_dir=tmp / "onnx")
    torch_ref = get_encoder("effnet-lite0", backend="torch")
    x = preprocess(paths[:32])
    figures["onnx_vs_torch_max_abs_diff"] = float(np.abs(onnx.encode_array(x) - torch_ref.encode_array(x)).max())
    figures["images_per_s"] = round(rate(len(paths), lambda: encode(paths, onnx, cache=False, batch_size=32)), 1)
    figures["torch_images_per_s"] = round(rate(len(paths), lambda: encode(paths, torch_ref, cache=False,
                                                                          batch_size=32)), 1)
    figures["onnx_speedup"] = round(figures["images_per_s"] / figures["torch_images_per_s"], 2)
    figures["augmentation_top1"] = round(augmentation_top1(onnx, probe_images), 4)
    fallback = get_encoder("image-hash")
    figures["fallback_images_per_s"] = round(rate(len(paths), lambda: encode(paths, fallback, cache=False)), 1)
    figures["fallback_augmentation_top1"] = round(augmentation_top1(fallback, probe_images), 4)
    figures["texts"] = len(texts)
    figures["images"] = len(paths)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    for k, v in figures.items():
        print(f"{k:>28}: {v}")
    emit(figures)


if __name__ == "__main__":
    main()
