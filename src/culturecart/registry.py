"""One registry shape for everything chosen by name: models, encoders, rankers, metrics, adapters, fitted kinds.

A :class:`Registry` maps names to :class:`Entry` objects. An entry names its object as ``"module:attr"`` and is
imported only when it is used, so listing, checking and describing names (a configuration, ``--help``) imports no
torch or LightGBM. Names are matched case-insensitively with ``_`` and ``-`` alike (``offer_only`` =
``Offer-Only``), through the canonical name or any alias. A :class:`Pattern` stands for a family of names, such as
``ndcg@10``. An unknown name is one error, :class:`UnknownNameError` (a configuration error, exit code 2), that
lists the choices; the same one-line descriptions feed the command-line help.

Example:
    >>> fruit = Registry("fruit", [Entry("apple", "fractions:Fraction", "a round fruit", aliases=("malus",))])
    >>> fruit.resolve("MALUS").name, fruit.load("apple")(1, 2)
    ('apple', Fraction(1, 2))
    >>> fruit.resolve("pear")
    Traceback (most recent call last):
    ...
    culturecart.registry.UnknownNameError: unknown fruit 'pear'; choose one of: apple (a round fruit)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from culturecart.errors import ConfigError


class UnknownNameError(ConfigError):
    """A name that no entry of a registry has; the message lists the valid choices. Exit code 2."""


def normalise(name: str) -> str:
    """The form names are compared in: stripped, lower case, ``_`` read as ``-``."""
    return str(name).strip().lower().replace("_", "-")


def import_target(target: str) -> Any:
    """The object that ``"package.module:attr"`` names (``attr`` may be dotted)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Entry:
    """One named choice: what it is (``target``, imported on use), a one-line description and its aliases.

    Registries that need more per entry subclass it (a model's config class and defaults, an encoder's modality).
    """

    name: str
    target: str
    description: str
    aliases: tuple[str, ...] = ()

    def load(self) -> Any:
        return import_target(self.target)


@dataclass(frozen=True)
class Pattern:
    """A family of names matched by ``regex`` (full match, on the normalised name); ``build(match)`` makes the
    entry of one member, e.g. ``ndcg@10``."""

    regex: str
    example: str
    description: str
    build: Callable[[re.Match], Entry]


E = TypeVar("E", bound=Entry)


@dataclass
class Registry(Generic[E]):
    """Entries by name with aliases, and patterns for families of names (see the module docstring)."""

    what: str
    entries: Sequence[E]
    patterns: Sequence[Pattern] = ()
    _index: dict[str, E] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.entries = tuple(self.entries)
        self._index = {}
        for entry in self.entries:
            for key in (entry.name, *entry.aliases):
                k = normalise(key)
                if k in self._index and self._index[k] is not entry:
                    raise ValueError(f"{self.what} name {key!r} is registered twice")
                self._index[k] = entry

    def resolve(self, name: str) -> E:
        """The entry of ``name`` (canonical, alias or pattern member); :class:`UnknownNameError` otherwise."""
        key = normalise(name)
        if key in self._index:
            return self._index[key]
        for pattern in self.patterns:
            match = re.fullmatch(pattern.regex, key)
            if match:
                return pattern.build(match)
        raise UnknownNameError(f"unknown {self.what} {name!r}; choose one of: {self.choices()}")

    def load(self, name: str) -> Any:
        """The object an entry names, imported now."""
        return self.resolve(name).load()

    def canonical(self, name: str) -> str:
        return self.resolve(name).name

    def __contains__(self, name: object) -> bool:
        try:
            self.resolve(str(name))
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        """Canonical names, in registration order."""
        return [e.name for e in self.entries]

    def describe(self) -> list[tuple[str, str]]:
        """(name, description) of every entry, then of every pattern (by its example)."""
        return [(e.name, e.description) for e in self.entries] + \
            [(p.example, p.description) for p in self.patterns]

    def choices(self, entries: Iterable[E] | None = None) -> str:
        """Every choice with its description, as one line for messages and help."""
        shown = [(e.name, e.description) for e in (self.entries if entries is None else entries)]
        shown += [(p.example, p.description) for p in (self.patterns if entries is None else ())]
        return ", ".join(f"{n} ({d})" for n, d in shown)
