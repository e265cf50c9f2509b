"""Every Python block of the README and the docs runs as written (a block opts out only with a written reason:
``<!-- no-run: why -->`` on the line before it), each page's blocks in order in one namespace, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- no-run: (?P<why>[^>]+?) -->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _blocks(page: Path) -> list[tuple[str, str | None]]:
    return [(m.group("code"), m.group("why")) for m in BLOCK.finditer(page.read_text("utf-8"))]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_the_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CULTURECART_CACHE", str(tmp_path / "cache"))
    namespace: dict = {"__name__": "__docs__"}
    for code, why in _blocks(page):
        if why:
            continue  # the reason is written beside the block
        exec(compile(code, f"{page.name} block", "exec"), namespace)  # noqa: S102 (the docs' own code)


def test_opting_out_needs_a_reason():
    for page in PAGES:
        text = page.read_text("utf-8")
        assert "<!-- no-run -->" not in text and "<!-- no-run: -->" not in text, page.name


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text("utf-8")
    command = re.search(r"\*\*Run the tests\*\*.*?```bash\n(.*?)\n```", readme, re.S).group(1).strip()
    ci = [line for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines() if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert ci == [command]
    assert len(readme.splitlines()) <= 150
