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
from collections.abc import Iterator
from pathlib import Path

from culturecart.errors import UsageError


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
    fd, name = tempfile.mkstemp(prefix=_prefix(final), suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
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


def check_output_dir(final: str | os.PathLike[str], overwrite: bool = False, resume: bool = False) -> Path:
    """Check, before any work, that a folder can be written at ``final``; :class:`UsageError` otherwise.

    A file there, or a non-empty folder without ``overwrite`` (or ``resume``, for commands that continue
    in their own output folder), is refused; so is a parent that is a file.

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
    if final.exists() and not final.is_dir():
        raise UsageError(f"output folder {final} is a file; give a folder path")
    for parent in final.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"cannot create {final}: {parent} is a file")
            if not os.access(parent, os.W_OK):
                raise UsageError(f"cannot create {final}: {parent} is not writable")
            break
    if final.is_dir() and any(final.iterdir()) and not (overwrite or resume):
        raise OutputExistsError(f"{final} exists and is not empty (pass --overwrite to replace it)")
    return final


def check_output_file(final: str | os.PathLike[str]) -> Path:
    """Check, before any work, that a file can be written at ``final`` (not a folder; parent creatable)."""
    final = Path(final)
    if final.is_dir():
        raise UsageError(f"output {final} is a folder; give a file path")
    check_output_dir(final.parent, resume=True)
    return final


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; it replaces ``final`` only on success.

    Raises :class:`~culturecart.errors.UsageError` when ``final`` is a file, or exists, is not empty and
    ``overwrite`` is false.
    """
    final = check_output_dir(final, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(final)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(final), suffix=".tmp", dir=final.parent))
    try:
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
