"""One persistence contract for everything fitted: a folder, a header, open formats, one loader.

Every fitted object (a featurizer, a model, a scope's models, a predictor, each ranker and re-ranker, the matching
model, the session models) derives from :class:`Fitted` and saves to a folder holding

* ``<family>.json``, the **header**: ``kind`` (e.g. ``ranker:itemknn``; the family is the part before ``:``),
  ``format`` (the kind's format version), the ``culturecart`` version that wrote it, the validated ``config``,
  the fitted ``state`` that is not an array, the ``training`` fingerprint of the data it was fitted on, the
  SHA-256 of every other file in the folder (``files``) and a ``checksum`` of the header itself;
* arrays in open formats: NumPy ``.npz`` (read with ``allow_pickle=False``), safetensors, LightGBM's text format;
  a part that is itself fitted is a sub-folder with its own header. Never a pickle.

The folder is written atomically (a complete folder or none). :func:`load` dispatches on the header's kind through
:data:`FITTED`, refuses an unknown kind or a format newer than this version reads (naming both versions), checks
every file against the header before any parser sees it (a missing, empty, truncated or altered file is an
:class:`~culturecart.errors.InvalidInputError` naming it: LightGBM aborts the process on a truncated model), and
turns any other failure to rebuild the object into the same error. Folders written before this contract (no
``kind`` in their header) are migrated by their class where that is possible, refused with the command that
refits them otherwise. Using an object before it is fitted raises :class:`NotFittedError`
(:func:`check_is_fitted`, as scikit-learn's).

Example:
    >>> import tempfile
    >>> from culturecart.testing import toy_markets
    >>> from culturecart.ranking.rankers import Popularity
    >>> folder = Popularity().fit(toy_markets(), "aa").save(tempfile.mkdtemp() + "/pop")
    >>> header = read_header(folder)
    >>> header["kind"], header["format"], sorted(header["files"])
    ('ranker:popularity', 1, ['arrays.npz'])
    >>> load(folder).score(["u1"], ["i1"]).tolist()
    [2.0]
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from culturecart import __version__
from culturecart.atomic import atomic_dir
from culturecart.config_files import validated
from culturecart.errors import InvalidInputError, MissingInputError, UsageError
from culturecart.registry import Entry, Registry

F = TypeVar("F", bound="Fitted")


class FittedEntry(Entry):
    """A fitted kind: its class (``target``)."""


FITTED: Registry[FittedEntry] = Registry("fitted kind", [
    FittedEntry("featurizer", "culturecart.models.featurizer:Featurizer", "the fitted columns, levels, projections "
                                                                          "and user history of a dataset"),
    FittedEntry("model:logistic", "culturecart.models.tabular:LogisticModel", "logistic regression"),
    FittedEntry("model:lightgbm", "culturecart.models.tabular:LightGBMModel", "gradient-boosted trees"),
    FittedEntry("model:mlp", "culturecart.models.neural:MLPModel", "an MLP over modality blocks"),
    FittedEntry("model:transformer", "culturecart.models.neural:TransformerModel", "the cross-modal transformer"),
    FittedEntry("model:late_fusion", "culturecart.models.late_fusion:LateFusionModel", "stacked unimodal models"),
    FittedEntry("model:ngram_logistic", "culturecart.models.text_ngram:NgramLogisticModel",
                "TF-IDF n-grams + logistic regression"),
    FittedEntry("scope", "culturecart.culture.scopes:ScopedModel", "the model(s) of one scope (global, local, "
                                                                   "culture, finetune)"),
    FittedEntry("predictor", "culturecart.predictor:PurchasePredictor", "featurizer + scoped model(s): scores "
                                                                        "any dataset"),
    FittedEntry("ranker:popularity", "culturecart.ranking.rankers:Popularity", "item popularity"),
    FittedEntry("ranker:itemknn", "culturecart.ranking.rankers:ItemKNN", "item-kNN (co-occurrence cosine or Jaccard)"),
    FittedEntry("ranker:userknn", "culturecart.ranking.rankers:UserKNN", "user-kNN over the markets' users"),
    FittedEntry("ranker:ease", "culturecart.ranking.rankers:EASE", "EASE (closed-form item-item ridge)"),
    FittedEntry("ranker:als", "culturecart.ranking.rankers:MatrixFactorisation", "implicit ALS factors"),
    FittedEntry("ranker:bpr", "culturecart.ranking.rankers:BPR", "implicit BPR factors"),
    FittedEntry("ranker:lightgcn", "culturecart.ranking.lightgcn:LightGCN", "LightGCN graph embeddings"),
    FittedEntry("ranker:rerank", "culturecart.ranking.rerank:ReRanker", "LambdaRank over the base rankers"),
    FittedEntry("session:popularity", "culturecart.ranking.sessions:Popularity", "next item: popularity"),
    FittedEntry("session:covisitation", "culturecart.ranking.sessions:CoVisitation", "next item: co-visitation"),
    FittedEntry("session:rerank", "culturecart.ranking.session_rerank:SessionReRanker",
                "next item: LambdaRank over co-visitation candidates"),
    FittedEntry("matching", "culturecart.matching.model:MatchingModel", "product matching: ArcFace head, "
                                                                         "thresholds, pair scorer"),
])
FAMILIES = tuple(dict.fromkeys(e.name.split(":")[0] for e in FITTED.entries))
# Headers of layouts written before the contract that no family uses now -> the family that reads them
LEGACY_FAMILIES = {"xmarket": "ranker"}  # xmarket.json beside ranker/ (culturecart xmarket fit)


class NotFittedError(UsageError, AttributeError):
    """A fitted object used before ``fit`` (or ``load``). Exit code 2."""


def check_is_fitted(obj: object) -> None:
    """Raise :class:`NotFittedError` unless ``obj`` is fitted (its ``is_fitted()`` says so)."""
    if not obj.is_fitted():  # type: ignore[attr-defined]
        name = type(obj).__name__
        raise NotFittedError(f"this {name} is not fitted: call fit() first, or load a fitted one with "
                             f"{name}.load(folder)")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _header_checksum(header: dict) -> str:
    body = {k: v for k, v in header.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    """JSON's own types (tuples as lists, NumPy scalars and arrays as Python values), so that the header reads
    back equal to what was written and its checksum holds."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_parts(folder: Path, kind: str, fmt: int, config: dict, state: dict,
                training: str | None = None) -> None:
    """Write the header of ``kind`` into ``folder``, whose other files (and fitted sub-folders) are in place.

    For code that assembles a fitted folder from parts without rebuilding the objects (the study publishes its
    units' model files as predictor folders this way); :meth:`Fitted.save` ends here too.
    """
    family = kind.split(":")[0]
    header_name = f"{family}.json"
    files = {str(p.relative_to(folder)): file_digest(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.relative_to(folder) != Path(header_name)}
    header = {"kind": kind, "format": fmt, "culturecart": __version__, "config": _jsonable(config),
              "state": _jsonable(state), "training": training, "files": files}
    header["checksum"] = _header_checksum(header)
    (folder / header_name).write_text(json.dumps(header, indent=1, ensure_ascii=False), encoding="utf-8")


class Files:
    """The files of one fitted folder, each checked against the header before it is read; errors name the file."""

    def __init__(self, folder: Path, digests: dict[str, str] | None) -> None:
        self.folder, self.digests, self.reading = folder, digests, ""

    def _checked(self, name: str) -> Path:
        path = self.folder / name
        self.reading = name
        if not path.exists():
            raise InvalidInputError(f"{self.folder}: {name} is missing (the folder is incomplete)", )
        if not path.is_file():
            raise InvalidInputError(f"{self.folder}: {name} is a folder, not a file")
        return path

    def path(self, name: str) -> Path:
        """The path of file ``name`` (checked), for readers that open files themselves (safetensors)."""
        return self._checked(name)

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def bytes(self, name: str) -> bytes:
        return self._checked(name).read_bytes()

    def text(self, name: str) -> str:
        data = self.bytes(name)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidInputError(f"{self.folder}: {name} is damaged (not UTF-8 text at byte {err.start})") from None

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.text(name))
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{self.folder}: {name} is damaged (not valid JSON: {err.msg} at line "
                                    f"{err.lineno})") from None

    def npz(self, name: str) -> dict[str, np.ndarray]:
        data = self.bytes(name)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                return {k: arrays[k] for k in arrays.files}
        except Exception as err:  # numpy raises several kinds on a damaged archive
            raise InvalidInputError(f"{self.folder}: {name} is damaged ({type(err).__name__}: {err})") from None

    def lightgbm(self, name: str):
        """A LightGBM booster from its text file. A damaged file must never reach LightGBM, which aborts the process
        on some: without a header digest (an old folder) the text is checked for the lines a complete model ends
        with."""
        import lightgbm as lgb

        text = self.text(name)
        if self.digests is None and "end of trees" not in text:
            raise InvalidInputError(f"{self.folder}: {name} is damaged (not a complete LightGBM model)")
        try:
            return lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as err:
            raise InvalidInputError(f"{self.folder}: {name} is damaged ({err})") from None

    def fitted(self, name: str, expect: type[F] | None = None) -> F:
        """The fitted object saved in sub-folder ``name``."""
        self.reading = name + "/"
        return load(self.folder / name, expect=expect)


def _verify(folder: Path, header_name: str, header: dict) -> None:
    for name, digest in sorted(header["files"].items()):
        path = folder / name
        if not path.exists():
            raise InvalidInputError(f"{folder}: {name} is missing (the folder is incomplete; save it again)")
        if not path.is_file():
            raise InvalidInputError(f"{folder}: {name} is a folder where a file belongs (the folder is damaged)")
        if file_digest(path) != digest:
            size = path.stat().st_size
            how = "empty" if size == 0 else "changed, truncated or corrupted"
            raise InvalidInputError(f"{folder}: {name} is damaged ({how}: its content is not what was saved)")


def read_header(folder: str | Path) -> dict:
    """The header of a fitted folder (migrated from an older layout where the kind can do that), checked.

    :class:`~culturecart.errors.InvalidInputError` when the folder holds no fitted object, or its header is damaged,
    of an unknown kind or of a newer format than this culturecart reads.
    """
    folder = Path(folder)
    if not folder.exists():
        raise MissingInputError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidInputError(f"model folder {folder} is a file, not a folder")
    found = [f for f in (*FAMILIES, *LEGACY_FAMILIES) if (folder / f"{f}.json").exists()]
    if not found:
        raise InvalidInputError(f"{folder} holds no fitted culturecart object (none of "
                                f"{', '.join(f + '.json' for f in FAMILIES)}); fit one first "
                                "(culturecart fit, xmarket fit or match fit)")
    header_name = f"{found[0]}.json"
    files = Files(folder, None)
    raw = files.json(header_name)
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{folder}: {header_name} is damaged (not a JSON object)")
    if "kind" not in raw and "checksum" not in raw:  # written before the contract: migrated, or how to refit
        cls = _legacy_class(found[0])
        try:
            header = cls.legacy_header(raw, folder)
        except InvalidInputError:
            raise
        except Exception as exc:  # an old header without what its layout has
            raise InvalidInputError(f"{folder}: {header_name} is damaged or incomplete ({type(exc).__name__}: "
                                    f"{exc})") from None
        header["legacy"] = True
        return header
    if raw.get("checksum") != _header_checksum(raw):
        raise InvalidInputError(f"{folder}: {header_name} is damaged (its checksum does not match its content)")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in FITTED:
        raise InvalidInputError(f"{folder} holds a {kind!r}, a kind this culturecart ({__version__}) does not know "
                                f"(it was written by culturecart {raw.get('culturecart', '?')}); known kinds: "
                                f"{', '.join(FITTED.names())}")
    cls = FITTED.load(kind)
    if not isinstance(raw.get("format"), int) or raw["format"] > cls.format:
        raise InvalidInputError(f"{folder} was written by culturecart {raw.get('culturecart', '?')} in {kind} format "
                                f"{raw.get('format')}; this culturecart ({__version__}) reads {kind} format "
                                f"{cls.format} at most: upgrade culturecart, or fit the model again")
    _verify(folder, header_name, raw)
    return raw


def _legacy_class(family: str) -> type[Fitted]:
    targets = {e.name.split(":")[0]: e for e in FITTED.entries}
    cls = targets[LEGACY_FAMILIES.get(family, family)].load()
    for base in cls.__mro__:  # the family's base class migrates (PurchaseModel for every model:..., Ranker...)
        if base.__dict__.get("family_base"):
            return base
    return cls


def load(folder: str | Path, expect: type[F] | None = None) -> F:
    """The fitted object saved in ``folder`` (any kind; ``expect``: refuse other classes).

    Example: see the module docstring.
    """
    folder = Path(folder)
    header = read_header(folder)
    cls = FITTED.load(header["kind"])
    if expect is not None and not issubclass(cls, expect):
        raise InvalidInputError(f"{folder} holds a {header['kind']}, not a {expect.__name__}")
    files = Files(folder if not header.get("subfolder") else folder / header["subfolder"],
                  None if header.get("legacy") else header["files"])
    try:
        config = cls.config_class.model_validate(header["config"])
    except ValidationError as err:
        raise InvalidInputError(f"{folder}: the saved config of this {header['kind']} is invalid: "
                                f"{err.errors()[0]['loc']}: {err.errors()[0]['msg']}") from None
    try:
        obj = cls._from_state(config, header.get("state") or {}, files)
    except InvalidInputError:
        raise
    except Exception as exc:  # any failure to rebuild the object is damage to its files
        part = f" ({files.reading})" if files.reading else ""
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise InvalidInputError(f"{header['kind']} folder {folder} is damaged or incomplete{part}: {detail}") from exc
    obj.training_fingerprint_ = header.get("training")
    return obj


def describe(folder: str | Path) -> dict:
    """What ``culturecart info`` prints: kind, versions, config, training fingerprint and the files."""
    header = read_header(folder)
    return {"folder": str(folder), "kind": header["kind"], "format": header["format"],
            "written_by": header.get("culturecart"), "training": header.get("training"),
            "config": header.get("config"), "state": {k: v for k, v in (header.get("state") or {}).items()
                                                      if not isinstance(v, list) or len(v) <= 12},
            "files": sorted(header.get("files") or [])}


class Fitted:
    """Base of every fitted object: a typed config, ``is_fitted``, ``save`` / ``load`` (see the module docstring).

    A subclass sets ``kind`` (registered in :data:`FITTED`), ``format`` (raise it when the saved layout changes),
    ``config_class`` and ``fitted_attribute`` (set only by ``fit``), and implements :meth:`_save_state` (write
    arrays, return the JSON-able rest) and :meth:`_from_state` (the inverse). Options are validated by
    ``config_class`` (unknown keys are a :class:`~culturecart.errors.ConfigError` that lists the valid ones).
    """

    kind: ClassVar[str] = ""
    format: ClassVar[int] = 1
    config_class: ClassVar[type[BaseModel]]
    fitted_attribute: ClassVar[str] = ""
    unsaved_options: ClassVar[frozenset[str]] = frozenset()  # run settings that are not part of the model
    config: BaseModel

    @classmethod
    def make_config(cls, config: BaseModel | dict | None = None, **options: Any) -> BaseModel:
        """``config_class`` from a config (or dict) with ``options`` on top, refusing unknown options by name."""
        base = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})
        return validated(cls.config_class, {**base, **options}, f"options of {cls.kind or cls.__name__}")

    def is_fitted(self) -> bool:
        return getattr(self, self.fitted_attribute, None) is not None

    def _save_state(self, folder: Path) -> dict:
        """Write the fitted arrays (and fitted parts, as sub-folders) into ``folder``; return the JSON-able rest."""
        raise NotImplementedError

    @classmethod
    def _from_state(cls: type[F], config: BaseModel, state: dict, files: Files) -> F:
        """Rebuild a fitted object from its config, its JSON state and its (checked) files."""
        raise NotImplementedError

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """A header for a folder written before this contract (``raw`` is its old JSON file), or an
        :class:`~culturecart.errors.InvalidInputError` that says how to refit. Refused unless a family overrides."""
        raise InvalidInputError(f"{folder} was written by an older culturecart in a layout this version does not "
                                "read; fit the model again")

    def write_into(self, folder: Path) -> Path:
        """Save into ``folder`` (created; it must be empty): the files, then the header. Parents use it for parts."""
        check_is_fitted(self)
        folder.mkdir(parents=True, exist_ok=True)
        state = self._save_state(folder)
        config = self.config.model_dump(mode="json", exclude=set(self.unsaved_options))
        write_parts(folder, self.kind, self.format, config, state, getattr(self, "training_fingerprint_", None))
        return folder

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the fitted object to ``folder`` atomically (a non-empty folder needs ``overwrite``)."""
        check_is_fitted(self)
        with atomic_dir(folder, overwrite=overwrite) as tmp:
            self.write_into(tmp)
        return Path(folder)

    @classmethod
    def load(cls: type[F], folder: str | Path) -> F:
        """Read a folder written by :meth:`save` (any subclass of this class; others are refused)."""
        return load(folder, expect=cls)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as one NumPy archive (no object arrays: it is read with ``allow_pickle=False``)."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
