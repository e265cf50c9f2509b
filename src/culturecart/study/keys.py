"""Keys that cannot go stale: the content of every file a unit reads, and the version of the code it runs.

A study reuses a stored unit when its key matches, so the key must change whenever the unit's result could:

* :func:`dataset_key`: every file of a dataset folder, by content (tables of any extension, ``dataset.json`` and
  other documents, images in any sub-folder), and the image files its tables name under declared ``image_roots``;
* :func:`file_key`: one input file by content (the matching input, ``culture.hofstede_path``);
* :func:`code_version`: a hash of the source of every culturecart module the unit's function can reach through
  its imports (at module level, in functions, under ``TYPE_CHECKING``), of the package's data files (the shipped
  Hofstede scores, the simulator's rules), with the versions of the libraries whose arithmetic the results depend
  on. Editing a unit's computation (or anything it calls) changes it; the static
  ``__version__`` would not.

Contents are hashed with the encoders' content hash (:func:`culturecart.encoders.cache.file_content_key`), so a
copy with the same modification times (``cp -p``) but other bytes gets another key.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "events.csv.gz").write_bytes(b"a")
    >>> before = dataset_key(d)
    >>> _ = (d / "events.csv.gz").write_bytes(b"b")
    >>> dataset_key(d) != before
    True
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from culturecart.encoders.cache import file_content_key

SKIPPED_FOLDERS = {"embeddings"}  # written into a dataset by `culturecart encode`; never read by a study
LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "torch", "statsmodels", "implicit", "faiss-cpu",
             "onnxruntime")


def file_key(path: str | Path) -> str:
    """The content hash of one file (hex)."""
    return file_content_key(Path(path)).hex()


def _files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_FOLDERS or any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            yield path


def dataset_key(root: str | Path, referenced: Iterable[str | Path] = ()) -> str:
    """The content of every file under ``root`` (names and bytes) and of the ``referenced`` files outside it
    (images under declared image roots)."""
    root = Path(root)
    h = hashlib.sha256()
    for path in _files(root):
        h.update(str(path.relative_to(root)).encode("utf-8") + b"\0" + file_content_key(path))
    for path in sorted({Path(p) for p in referenced}):
        if path.is_file() and not path.resolve().is_relative_to(root.resolve()):
            h.update(str(path).encode("utf-8") + b"\0" + file_content_key(path))
    return h.hexdigest()[:20]


def outside_files(ds) -> list[Path]:
    """The image files the tables of dataset ``ds`` name outside its folder (under its declared image roots)."""
    if ds.root is None or not ds.meta.get("image_roots"):
        return []
    found = []
    for table in ("items", "reviews"):
        frame = getattr(ds, table)
        if frame is not None and "image_path" in frame.columns:
            for value in frame["image_path"].dropna().astype(str).unique():
                path = ds.resolve(value)
                if path is not None and not path.resolve().is_relative_to(Path(ds.root).resolve()):
                    found.append(path)
    return found


def _imports(path: Path, package: str) -> set[str]:
    """Names of the modules of ``package`` that the source at ``path`` imports, anywhere in it."""
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # a submodule imported by name
    return found


@functools.cache
def _module_closure(module: str) -> tuple[tuple[str, str], ...]:
    """(module, source hash) of ``module`` and every culturecart module reachable from it, sorted."""
    package = module.split(".")[0]
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        spec = importlib.util.find_spec(name) if _is_module(name) else None
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        path = Path(spec.origin)
        seen[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        todo += sorted(_imports(path, package))
        parent = name.rpartition(".")[0]
        if parent:  # importing a module runs its package's __init__ first
            todo.append(parent)
    return tuple(sorted(seen.items()))


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ModuleNotFoundError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def _package_data() -> tuple[tuple[str, str], ...]:
    """(path, hash) of the package's data files (shipped Hofstede scores, the simulator's rules, presets...)."""
    root = Path(__file__).resolve().parents[1]
    return tuple((str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest())
                 for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".yaml", ".csv", ".json"))


def code_version(*functions: Callable) -> str:
    """A hash of the culturecart source reachable from the modules of ``functions``, of the package's data files
    and of the library versions (see the module docstring)."""
    h = hashlib.sha256()
    for fn in functions:
        for name, digest in _module_closure(fn.__module__):
            h.update(f"{name}={digest};".encode())
    for name, digest in _package_data():
        h.update(f"{name}={digest};".encode())
    for lib in LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=absent;".encode())
    return h.hexdigest()[:16]
