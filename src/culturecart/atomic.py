"""Atomic writes: a file or folder is either complete at its final path or absent.

Everything culturecart writes goes through here so that an interrupted run never leaves a
half-written table, cache entry or report behind. Temporaries live beside their target as
``.<name>.<pid>.<random>.tmp``; one left by a killed process (its pid no longer runs) is removed
by the next write to the same target. Finished files and folders get the permissions the user's
umask gives (temporaries are created private, then opened up on success).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from culturecart.errors import EnvironmentProblem, UsageError, environment_cause


class OutputExistsError(UsageError, FileExistsError):
    """The output folder exists and is not empty, and nothing allows replacing it."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(final: Path) -> list[Path]:
    """Remove temporaries of ``final`` left by processes that no longer run; returns what was removed."""
    removed = []
    if not final.parent.is_dir():
        return removed
    for tmp in final.parent.glob(f".{final.name}.*"):
        rest = tmp.name[len(final.name) + 2:]
        pid_text = rest.split(".", 1)[0].replace("old-", "")
        if not (tmp.name.endswith(".tmp") or rest.startswith("old-")) or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _prefix(final: Path) -> str:
    return f".{final.name}.{os.getpid()}."


@contextlib.contextmanager
def _environment_errors(final: Path) -> Iterator[None]:
    """A write that fails because of the machine (disk full, read-only, not permitted) is an
    :class:`~culturecart.errors.EnvironmentProblem` naming where it was writing (exit code 4), whichever library
    wrote (Python, Arrow, NumPy)."""
    try:
        yield
    except EnvironmentProblem:
        raise
    except Exception as exc:
        cause = environment_cause(exc)
        if cause is None:
            raise
        raise EnvironmentProblem(f"cannot write {final}: {cause} (in {final.parent}); nothing was kept") from exc


def _probe_writable(folder: Path) -> None:
    """Create and remove a file in ``folder``: permissions, read-only mounts, immutable folders, /proc and full disks
    all answer (root passes every permission check, so asking ``os.access`` is not enough)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".culturecart-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write in {folder}: {exc.strerror or exc}") from None


def _probe_replaceable(path: Path) -> None:
    """An existing output file can be replaced (an immutable file cannot, even by root); nothing is changed."""
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:
        raise EnvironmentProblem(f"cannot replace {path}: {exc.strerror or exc}") from None


def _existing_parent(final: Path) -> Path:
    for parent in final.parents:
        if parent.exists():
            return parent
    return Path.cwd()


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it into place only if the block succeeds.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(d / "x.txt") as tmp:
        ...     _ = tmp.write_text("hello")
        >>> (d / "x.txt").read_text()
        'hello'
    """
    final = Path(final)
    if final.is_dir():
        raise UsageError(f"{final} is a folder; a file is to be written there")
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(final)
    with _environment_errors(final):
        fd, name = tempfile.mkstemp(prefix=_prefix(final), suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with _environment_errors(final):
            yield tmp
            if tmp.exists():
                os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(final: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(final: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def check_output_dir(final: str | os.PathLike[str], overwrite: bool = False, resume: bool = False,
                     reads: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """Check, before any work, that a folder can be written at ``final``; :class:`UsageError` otherwise.

    A file there, or a non-empty folder without ``overwrite`` (or ``resume``, for commands that continue
    in their own output folder), is refused; so is a parent that is a file, and an output that is, lies inside
    or (replaced) holds one of the paths the command ``reads`` (:func:`check_not_an_input`). A folder that cannot
    be written is an :class:`~culturecart.errors.EnvironmentProblem` (exit code 4).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "a-file"
        >>> _ = f.write_text("x")
        >>> check_output_dir(f)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        culturecart.errors.UsageError: output folder ... is a file; give a folder path
    """
    final = Path(final)
    check_not_an_input(final, reads, replaces=not resume)
    if final.exists() and not final.is_dir():
        raise UsageError(f"output folder {final} is a file; give a folder path")
    parent = _existing_parent(final)
    if not parent.is_dir():
        raise UsageError(f"cannot create {final}: {parent} is a file")
    if final.is_dir() and any(final.iterdir()) and not (overwrite or resume):
        raise OutputExistsError(f"{final} exists and is not empty (pass --overwrite to replace it)")
    _probe_writable(final if final.is_dir() else parent)  # the folder that receives the first write
    if final.is_dir() and final.parent.is_dir() and (overwrite or not resume):
        _probe_writable(final.parent)  # a replaced folder is built beside it
    return final


def check_output_file(final: str | os.PathLike[str], reads: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """Check, before any work, that a file can be written at ``final`` (not a folder; parent creatable; not one of
    the paths the command ``reads`` nor inside one)."""
    final = Path(final)
    check_not_an_input(final, reads)
    if final.is_dir():
        raise UsageError(f"output {final} is a folder; give a file path")
    check_output_dir(final.parent, resume=True)
    if final.exists():
        _probe_replaceable(final)
    return final


def check_not_an_input(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None],
                       replaces: bool = False, option: str = "--out") -> None:
    """Refuse (:class:`UsageError`, before any work) an output that is one of the ``inputs``, lies inside one, or,
    when the output folder is replaced as a whole or filled with many files (``replaces``), holds one: no command writes into, over or
    replaces what it reads. Real paths are compared (links and ``..`` resolved; hard links by inode).

    Example:
        >>> import tempfile, pathlib
        >>> data = pathlib.Path(tempfile.mkdtemp())
        >>> check_not_an_input(data / "sub" / ".." / "scores.csv", [data])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        culturecart.errors.UsageError: --out ... is inside ..., which this command reads: ...
    """
    out = Path(output)
    real_out = out.resolve()
    for item in inputs:
        if item is None:
            continue
        real_in = Path(item).resolve()
        if real_out == real_in or (out.exists() and Path(item).exists() and os.path.samefile(out, item)):
            how = "is"
        elif real_out.is_relative_to(real_in):
            how = "is inside"
        elif replaces and real_in.is_relative_to(real_out):
            how = "holds"
        else:
            continue
        raise UsageError(f"{option} {output} {how} {item}, which this command reads: culturecart never writes "
                         "into, over or replaces what it reads; choose another path")


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; it replaces ``final`` only on success.

    Raises :class:`~culturecart.errors.UsageError` when ``final`` is a file, or exists, is not empty and
    ``overwrite`` is false.
    """
    final = check_output_dir(final, overwrite=overwrite)
    with _environment_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(final)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(final), suffix=".tmp", dir=final.parent))
    try:
        with _environment_errors(final):
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            if final.exists():
                old = final.with_name(f".{final.name}.old-{os.getpid()}")
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
