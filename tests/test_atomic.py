"""Atomic writes leave either the complete result or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from culturecart.atomic import atomic_dir, atomic_path, atomic_write_text


def test_failed_write_leaves_nothing(tmp_path: Path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_version(tmp_path: Path):
    target = tmp_path / "x.txt"
    atomic_write_text(target, "v1")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("v2-partial")
        raise RuntimeError
    assert target.read_text() == "v1"


def test_atomic_dir_refuses_non_empty_without_overwrite(tmp_path: Path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep").write_text("x")
    with pytest.raises(FileExistsError), atomic_dir(out):
        pass
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_atomic_dir_failure_keeps_old_folder(tmp_path: Path):
    out = tmp_path / "ds"
    with atomic_dir(out) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError), atomic_dir(out, overwrite=True) as tmp:
        (tmp / "b").write_text("2")
        raise ValueError
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
