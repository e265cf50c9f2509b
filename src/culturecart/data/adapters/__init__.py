"""Adapters: public data formats -> the canonical model, selected by name (aliases allowed).

Example:
    >>> sorted(ADAPTERS)[:3]
    ['amazon-m2', 'clothing-reviews', 'marc']
    >>> get_adapter("uci-shoppers") is get_adapter("shoppers")
    True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from culturecart.data.adapters.amazon_m2 import convert_amazon_m2
from culturecart.data.adapters.clothing_reviews import convert_clothing_reviews
from culturecart.data.adapters.marc import convert_marc
from culturecart.data.adapters.online_retail import convert_online_retail
from culturecart.data.adapters.shopee import convert_shopee, read_shopee
from culturecart.data.adapters.shoppers import convert_shoppers
from culturecart.data.dataset import Dataset

Adapter = Callable[..., Dataset]

ADAPTERS: dict[str, Adapter] = {
    "shoppers": convert_shoppers,
    "online-retail": convert_online_retail,
    "amazon-m2": convert_amazon_m2,
    "clothing-reviews": convert_clothing_reviews,
    "marc": convert_marc,
    "shopee": convert_shopee,
}
ALIASES = {"uci-shoppers": "shoppers", "online-shoppers": "shoppers", "retail": "online-retail",
           "online-retail-ii": "online-retail", "m2": "amazon-m2", "womens-clothing": "clothing-reviews",
           "clothing": "clothing-reviews", "shopee-pmg": "shopee"}
# The shared data folder each adapter reads by default (see culturecart.paths.data_root).
SHARED_FOLDERS = {"shoppers": "uci_online_shoppers", "online-retail": "uci_online_retail",
                  "amazon-m2": "amazon_m2_test", "clothing-reviews": "womens_clothing_reviews",
                  "marc": "marc_reviews_6lang", "shopee": "shopee_pmg/train_dev.csv.gz"}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name`` or one of its aliases (``KeyError`` otherwise)."""
    key = name.strip().lower().replace("_", "-")
    return ADAPTERS[ALIASES.get(key, key)]


def convert(name: str, src: str | Path, **options) -> Dataset:
    """Run an adapter by name."""
    return get_adapter(name)(src, **options)


__all__ = ["ADAPTERS", "ALIASES", "SHARED_FOLDERS", "convert", "get_adapter", "read_shopee"]
