"""Reading the user's config and option files (YAML settings, rules, Hofstede scores) with clear errors.

Each failure is a :class:`~culturecart.errors.ConfigError` (exit code 2) that names the file and what
is wrong: missing, a folder, not UTF-8 (byte offset and line), not valid YAML (line and column),
or not a mapping.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_bytes(b"name: caf\\xe9\\n")
    >>> load_yaml_file(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    culturecart.errors.ConfigError: config file ...c.yaml: not UTF-8 text: byte offset 9 (line 1, column 10) ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from culturecart.errors import ConfigError, describe_decode_error


def read_text_file(path: str | Path, what: str = "config file") -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped); :class:`ConfigError` naming the file otherwise."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} {p} does not exist")
    if p.is_dir():
        raise ConfigError(f"{what} {p} is a folder, not a file")
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {describe_decode_error(p, data, err)}") from None


MAX_CONFIG_BYTES = 1_000_000  # a configuration is settings, not data
MAX_EXPANDED_NODES = 1_000_000  # values once every YAML alias (*name) is expanded


def _expanded_nodes(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for with every alias expanded (aliases share nodes, counted as copies)."""
    if id(node) in memo:
        return memo[id(node)]
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_nodes(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_nodes(k, memo) + _expanded_nodes(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def parse_yaml(text: str, where: str) -> Any:
    r"""``yaml.safe_load`` with errors that name ``where`` and the line and column. A document above
    :data:`MAX_CONFIG_BYTES`, or that stands for more than :data:`MAX_EXPANDED_NODES` values once its aliases are
    expanded, is refused before it is built (a "billion laughs" document expands a few lines into gigabytes).

    Example:
        >>> parse_yaml("a: &x [1, 2]\nb: *x", "inline")
        {'a': [1, 2], 'b': [1, 2]}
    """
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where}: {len(text.encode('utf-8')):,} bytes, more than a configuration needs (at most "
                          f"{MAX_CONFIG_BYTES:,})")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        node = None  # not valid YAML: safe_load below says where
    expanded = _expanded_nodes(node, {}) if node is not None else 0
    if expanded > MAX_EXPANDED_NODES:
        raise ConfigError(f"{where}: its aliases (*name) expand into {expanded:,} values (at most "
                          f"{MAX_EXPANDED_NODES:,}): a document that small expanding that far is an alias bomb")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None


def load_yaml_file(path: str | Path, what: str = "config file") -> dict:
    """A YAML mapping from ``path`` (empty file: ``{}``); :class:`ConfigError` naming the file otherwise."""
    value = parse_yaml(read_text_file(path, what), f"{what} {path}")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} {path}: the top level must be a mapping of settings, not {type(value).__name__}")
    return value


def explain_validation(err: ValidationError, where: str) -> str:
    """A pydantic error as lines ``key: what is wrong (got value)`` under ``where``."""
    lines = [f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']} (got {e.get('input')!r})"
             for e in err.errors()]
    return f"{where}:\n  " + "\n  ".join(lines)


def validated(model: type[BaseModel], values: dict, what: str) -> BaseModel:
    """``model`` validated from ``values``; a :class:`ConfigError` that names ``what``, each wrong key and, for an
    unknown key, the valid ones.

    Example:
        >>> from pydantic import ConfigDict
        >>> class Opts(BaseModel):
        ...     model_config = ConfigDict(extra="forbid")
        ...     l2: float = 1.0
        >>> validated(Opts, {"l3": 5}, "options of ease")
        Traceback (most recent call last):
        ...
        culturecart.errors.ConfigError: options of ease: l3: unknown option (valid: l2)
    """
    try:
        return model.model_validate(values)
    except ValidationError as err:
        valid = ", ".join(sorted(model.model_fields)) or "none"
        wrong = []
        for e in err.errors():
            key = ".".join(str(x) for x in e["loc"]) or "(options)"
            if e["type"] == "extra_forbidden":
                wrong.append(f"{key}: unknown option (valid: {valid})")
            elif e["type"] == "value_error":  # a check of ours: its message names what is wrong and the choices
                wrong.append(f"{key}: {e['msg'].removeprefix('Value error, ')}")
            else:
                wrong.append(f"{key}: {e['msg']} (got {e.get('input')!r})")
        raise ConfigError(f"{what}: " + "; ".join(wrong)) from None


VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_variables(value: Any, where: str) -> Any:
    """``${NAME}`` in every string of a settings tree replaced by the environment variable ``NAME``;
    ``${CULTURECART_DATA}`` falls back to the shared data folder (:func:`culturecart.paths.data_root`). An unset
    variable is a :class:`ConfigError` naming it.

    Example:
        >>> import os; os.environ["CC_DOC_DIR"] = "/data"
        >>> expand_variables({"data": {"path": "${CC_DOC_DIR}/retail"}}, "doc")
        {'data': {'path': '/data/retail'}}
    """
    if isinstance(value, dict):
        return {k: expand_variables(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, where) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in os.environ:
            return os.environ[name]
        if name == "CULTURECART_DATA":
            from culturecart.paths import data_root

            return str(data_root())
        raise ConfigError(f"{where}: environment variable {name} is not set (used as ${{{name}}}); set it or write "
                          "the value itself")

    return VARIABLE.sub(one, value)


def path_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every setting of ``model`` that names a file or folder (a field marked ``json_schema_extra={"path":
    True}``, in any section), as key paths."""
    keys = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("path"):
            keys.append((*prefix, name))
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += path_keys(ann, (*prefix, name))
    return keys


def resolve_paths(tree: dict, model: type[BaseModel], base: Path, extra: Sequence[tuple[str, ...]] = ()) -> dict:
    """The relative paths in a config file's settings (``tree``, for ``model``; ``extra`` key paths beside the
    marked fields) made relative to ``base``, the file's folder: the file then works from any folder.

    Example:
        >>> from pydantic import BaseModel, Field
        >>> class Settings(BaseModel):
        ...     table: str = Field("", json_schema_extra={"path": True})
        >>> resolve_paths({"table": "data/t.csv"}, Settings, Path("/project/configs"))
        {'table': '/project/configs/data/t.csv'}
    """
    for key in [*path_keys(model), *extra]:
        node: Any = tree
        for part in key[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        value = node.get(key[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value:
            path = Path(value).expanduser()
            node[key[-1]] = str(path) if path.is_absolute() else os.path.normpath(base / path)
    return tree


def load_model_file(model: type[BaseModel], path: str | Path, what: str) -> BaseModel:
    """Validate a YAML file into a pydantic ``model``; :class:`ConfigError` naming file and keys otherwise.
    ``${NAME}`` expands from the environment, relative paths are relative to the file's folder."""
    try:
        tree = expand_variables(load_yaml_file(path, what), f"{what} {path}")
        if isinstance(tree, dict):
            tree = resolve_paths(tree, model, Path(path).resolve().parent)
        return model.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(explain_validation(err, f"{what} {path} is invalid")) from None
    except KeyError as err:  # registries name the unknown entry and the valid ones
        raise ConfigError(f"{what} {path} is invalid: {err.args[0]}") from None
