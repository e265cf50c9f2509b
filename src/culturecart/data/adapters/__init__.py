"""Adapters: public data formats -> the canonical model, selected by name (aliases allowed).

One registry (the shared shape of :mod:`culturecart.registry`); an adapter is imported when it is used.

Example:
    >>> ADAPTERS.names()[:3]
    ['shoppers', 'online-retail', 'amazon-m2']
    >>> get_adapter("uci-shoppers") is get_adapter("shoppers")
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from culturecart.data.dataset import Dataset
from culturecart.registry import Entry, Registry

Adapter = Callable[..., Dataset]


@dataclass(frozen=True)
class AdapterOption:
    """One option of an adapter beyond ``src`` and ``limit``, as ``convert ADAPTER --help`` shows it."""

    name: str
    kind: type
    default: object
    help: str


@dataclass(frozen=True)
class AdapterEntry(Entry):
    """A source format: its converter (``target``), the shared data folder it reads by default
    (:func:`culturecart.paths.data_root`) and its own options."""

    shared_folder: str = ""
    options: tuple[AdapterOption, ...] = ()


_A = "culturecart.data.adapters."
ADAPTERS: Registry[AdapterEntry] = Registry("format", [
    AdapterEntry("shoppers", _A + "shoppers:convert_shoppers", "UCI Online Shoppers sessions (label: Revenue)",
                 ("uci-shoppers", "online-shoppers"), "uci_online_shoppers"),
    AdapterEntry("online-retail", _A + "online_retail:convert_online_retail", "UCI Online Retail invoices "
                 "(label: bought the item in the next month)", ("retail", "online-retail-ii"), "uci_online_retail", (
                     AdapterOption("n_history", int, 20, "candidates per customer from their own past purchases"),
                     AdapterOption("n_popular", int, 10, "candidates from the previous month's most bought items"),
                     AdapterOption("active_months", int, 3, "months before the target a customer must have bought in"),
                     AdapterOption("min_days", int, 25, "days of data a month needs to be a target"))),
    AdapterEntry("amazon-m2", _A + "amazon_m2:convert_amazon_m2", "Amazon-M2 sessions (label: the session's next "
                 "item)", ("m2",), "amazon_m2_test"),
    AdapterEntry("clothing-reviews", _A + "clothing_reviews:convert_clothing_reviews", "Women's Clothing E-Commerce "
                 "Reviews (label: Recommended)", ("womens-clothing", "clothing"), "womens_clothing_reviews"),
    AdapterEntry("marc", _A + "marc:convert_marc", "Multilingual Amazon Reviews Corpus (label: stars >= 4)", (),
                 "marc_reviews_6lang", (AdapterOption("positive_from", int, 4, "stars that count as positive"),)),
    AdapterEntry("shopee", _A + "shopee:convert_shopee", "Shopee product matching listings (groups; --images)",
                 ("shopee-pmg",), "shopee_pmg/train_dev.csv.gz",
                 (AdapterOption("images", Path, None, "folder of the listing images (train_images/)"),)),
])
SHARED_FOLDERS = {e.name: e.shared_folder for e in ADAPTERS.entries}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name`` or one of its aliases (:class:`~culturecart.registry.UnknownNameError`
    listing the formats otherwise)."""
    return ADAPTERS.load(name)


def convert(name: str, src: str | Path, **options) -> Dataset:
    """Run an adapter by name; :class:`~culturecart.errors.InvalidInputError` listing every problem when what it
    converted does not validate against the canonical schema."""
    from culturecart.data.validate import validate_dataset
    from culturecart.errors import InvalidInputError

    ds = get_adapter(name)(src, **options)
    problems = validate_dataset(ds)
    if problems:
        raise InvalidInputError(f"the {name} data converted from {src} does not validate; nothing written. "
                                f"{len(problems)} problem(s):", problems)
    return ds


__all__ = ["ADAPTERS", "SHARED_FOLDERS", "AdapterOption", "convert", "get_adapter"]
