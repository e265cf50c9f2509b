"""Progress on a terminal keeps its numbers at any width: the text is what gets cut."""

from __future__ import annotations

import io
import re

from rich.console import Console

from culturecart.progress import RowProgress, StepProgress


def _terminal(width: int) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=True, color_system=None), buf


def test_count_elapsed_and_eta_stay_visible_at_80_columns():
    for width in (80, 120):
        console, buf = _terminal(width)
        with StepProgress("calibration", 160, console=console) as step:
            for _ in range(3):
                step("done (calibration scale 0 #12); fitting calibration scale 0 #13, calibration scale 0 #14, "
                     "and a long description that would push the numbers off the line")
            step.bar.refresh()
        lines = re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue()))
        last = [line for line in lines if "/160" in line][-1]
        assert "3/160" in last and re.search(r"\d:\d\d:\d\d \d:\d\d:\d\d", last), last
        assert all(len(line) <= width for line in lines)


def test_rows_progress_shows_its_rate_and_eta():
    console, buf = _terminal(80)
    with RowProgress("predict", console=console) as progress:
        progress(1000, 4000)
        progress.bar.refresh()
    assert "1000/4000" in buf.getvalue() and "rows/s" in buf.getvalue()
