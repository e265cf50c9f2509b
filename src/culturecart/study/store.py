"""Units of work keyed by a hash of their inputs, each result written atomically: a study resumes.

A unit's key is the SHA-256 of its stage, name and a JSON payload (its config section, the data
fingerprint, the split...). Results are NumPy arrays (``.npy``), DataFrames (``.parquet``) or JSON-able
dicts (``.json``), written to a temporary name and renamed, so a killed run leaves either a complete
result or none. Each result is stored as soon as its unit finishes, so a killed run keeps every finished
unit. Rerunning skips every unit whose result exists; units are deterministic, so a resumed study ends with
exactly the numbers of an uninterrupted one.

A unit whose result includes a model returns :class:`Artifact` (the value plus the model's files as bytes):
workers compute and return, only the driver writes the store (the result and ``<key>.files/``), so the
units can run where the store's folder is not visible (a Dask cluster). A unit declared with
``artifact=True`` counts as stored only when both its result and its files are there.

Example:
    >>> import tempfile
    >>> store = UnitStore(tempfile.mkdtemp())
    >>> u = Unit("demo", "square", {"x": 3}, pow, (3, 2))
    >>> store.run([u])[0], store.run([u], progress=None)[0], store.computed
    (9, 9, 1)
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from culturecart import __version__
from culturecart.atomic import atomic_dir, atomic_path, atomic_write_text
from culturecart.parallel import parallel_map, resolve_n_jobs
from culturecart.study.keys import code_version

_CATEGORIES = {"UserWarning": UserWarning, "RuntimeWarning": RuntimeWarning, "FutureWarning": FutureWarning}


def fingerprint(payload: Any) -> str:
    """A stable hash of any JSON-able payload (dict keys sorted)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass
class Unit:
    stage: str
    name: str
    payload: Any
    fn: Callable[..., Any]
    args: tuple = ()
    artifact: bool = False  # the unit returns an Artifact (a model's files beside its value)
    cost: float = 1.0  # expected compute, relative: the costliest units start first (never part of the key)
    shared: str | None = None  # a kind of work several stages may ask for: the key is the kind and payload only

    @property
    def key(self) -> str:
        """The stage (or shared kind) and a hash of the payload, the culturecart version and the version of the code
        the unit runs (:func:`~culturecart.study.keys.code_version`): a unit is reused only when both match."""
        code = [__version__, code_version(self.fn)]
        if self.shared:  # the same fit asked for by two stages is computed and stored once
            return f"{self.shared}-{fingerprint([self.shared, self.payload, *code])}"
        return f"{self.stage}-{fingerprint([self.stage, self.name, self.payload, *code])}"


@dataclass
class Artifact:
    """A unit's value and the files of what it fitted (relative path -> bytes), written by the driver."""

    value: Any
    files: dict[str, bytes]


def folder_files(folder: str | Path) -> dict[str, bytes]:
    """Every file under ``folder`` as relative path -> bytes (to send a saved model back to the driver)."""
    root = Path(folder)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``folder`` as one atomic folder (an old one is replaced)."""
    with atomic_dir(folder, overwrite=True) as tmp:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def _save(base: Path, value: Any) -> None:
    if isinstance(value, np.ndarray):
        with atomic_path(base.with_suffix(".npy"), suffix=".npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, value, allow_pickle=False)
    elif isinstance(value, pd.DataFrame):
        with atomic_path(base.with_suffix(".parquet"), suffix=".parquet") as tmp:
            value.to_parquet(tmp, index=False)
    else:
        atomic_write_text(base.with_suffix(".json"), json.dumps(value, default=float))


_READERS = ((".npy", lambda f: np.load(f, allow_pickle=False)), (".parquet", pd.read_parquet),
            (".json", lambda f: json.loads(f.read_text("utf-8"))))


def _load(base: Path) -> tuple[bool, Any]:
    """``(True, result)`` when ``base`` holds a stored result; ``(False, None)`` when it holds none or only a
    damaged one (results are written atomically, so damage comes from outside: computing it again loses
    nothing, and the new result replaces the damaged file)."""
    for suffix, read in _READERS:
        path = base.with_suffix(suffix)
        if path.exists():
            try:
                return True, read(path)
            except Exception as err:  # any reader's error: the file cannot be trusted
                warnings.warn(f"stored unit result {path} is damaged ({type(err).__name__}); computing it again",
                              stacklevel=3)
                return False, None
    return False, None


def _execute(fn: Callable[..., Any], args: tuple) -> tuple[Any, list[tuple[str, str]], float]:
    # Runs on a worker: computes and returns, writes nothing. Warnings raised there would print raw and
    # once per unit; they travel back to the driver instead, which shows each distinct one once.
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*args)
    return value, [(type(w.message).__name__, str(w.message)) for w in caught], time.perf_counter() - started


@dataclass
class UnitStore:
    folder: str | Path
    n_jobs: int = 1
    backend: str = "loky"
    computed: int = 0
    reused: int = 0
    log: list[dict] = field(default_factory=list)  # per computed unit: stage, name, key, seconds (on its worker)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def run(self, units: Sequence[Unit], progress: Callable[[str], None] | None = None,
            label: str | None = None) -> list[Any]:
        """Results of ``units`` in order: loaded when stored, computed (in parallel) otherwise.

        ``label`` names the batch in progress messages (default: the first unit's stage).
        """
        results: list[Any] = [None] * len(units)
        todo, twins = [], {}  # twins: a key asked for again in this batch -> the positions waiting on it
        first_of: dict[str, int] = {}
        for i, unit in enumerate(units):
            if unit.key in first_of:
                twins.setdefault(first_of[unit.key], []).append(i)
                continue
            first_of[unit.key] = i
            found, value = _load(self.folder / unit.key)
            if found and unit.artifact and not self.artifact(unit).is_dir():
                found = False  # a result stored without its model (an older store): compute it again
            if found:
                results[i] = value
                self.reused += 1
            else:
                todo.append(i)
        label = label or (units[0].stage if units else "")
        if todo and progress:
            shared = sum(len(w) for w in twins.values())
            progress(f"{label}: {len(todo)} unit(s) to compute, {len(units) - len(todo) - shared} reused"
                     + (f", {shared} asked twice (computed once)" if shared else ""))
        todo.sort(key=lambda i: -units[i].cost)  # stable: equal costs keep their order
        live = getattr(progress, "units", None)  # a reporter with a live display (see study.run)
        if todo and live:
            live.start(label, [f"{units[i].stage} {units[i].name}" for i in todo],
                       slots=resolve_n_jobs(self.n_jobs))
        shown: set[str] = set()

        def store(j: int, outcome: tuple[Any, list[tuple[str, str]], float]) -> None:
            i, (value, caught, seconds) = todo[j], outcome
            if isinstance(value, Artifact):
                write_files(self.artifact(units[i]), value.files)
                value = value.value
            _save(self.folder / units[i].key, value)  # last: a result on disk means the unit is complete
            results[i] = _load(self.folder / units[i].key)[1]  # the stored form, as a resumed run sees it
            self.log.append({"stage": units[i].stage, "name": units[i].name, "key": units[i].key,
                             "seconds": round(seconds, 3)})
            self.computed += 1
            for category, message in caught:
                if message not in shown and category != "DeprecationWarning":
                    shown.add(message)
                    warnings.warn(f"{units[i].stage} {units[i].name}: {message}", _CATEGORIES.get(category, UserWarning),
                                  stacklevel=2)
            if live:
                live.done(j)

        try:
            parallel_map(_execute, [(units[i].fn, units[i].args) for i in todo], self.n_jobs, self.backend,
                         on_done=store)
        finally:
            if todo and live:
                live.stop()
        for i, waiting in twins.items():
            for j in waiting:
                results[j] = results[i]
        return results

    def artifact(self, unit: Unit) -> Path:
        """Where the files of ``unit``'s fitted model are stored (``<key>.files/``)."""
        return Path(self.folder) / f"{unit.key}.files"
