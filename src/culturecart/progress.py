"""Live progress of a long command on stderr (stdout stays for results).

On a terminal: a rich bar (steps done / total, elapsed, ETA, what just finished); otherwise one line per
step, so logs of batch jobs show where the time goes; ``quiet`` silences both. Library functions take a
plain ``progress(detail)`` callable, so they neither import rich nor know how they are shown.

Example:
    >>> with StepProgress("demo", total=2, quiet=True) as step:
    ...     step("first half"); step("second half")
    >>> step.done
    2
"""

from __future__ import annotations

import time

from rich.console import Console

STDERR = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _bar(label: str, console: Console, *columns, detail: bool = False):
    """A started, transient rich bar: the label, the bar, done/total, then ``columns`` and (``detail``) the text of
    ``task.fields[detail]``. The numbers keep their width at any terminal width (80 columns too): the label and
    the detail text are what gets cut."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Column

    cut = {"no_wrap": True, "overflow": "ellipsis"}
    tail = [TextColumn("{task.fields[detail]}", markup=False, table_column=Column(ratio=1, min_width=0, **cut))] \
        if detail else []
    bar = Progress(TextColumn(label, markup=False, table_column=Column(max_width=28, **cut)), BarColumn(bar_width=16),
                   MofNCompleteColumn(table_column=Column(no_wrap=True)),
                   *(_fixed(c) for c in columns), *tail, console=console, transient=True, expand=True)
    bar.start()
    return bar


def _fixed(column):
    """A numbers column that is never wrapped or squeezed."""
    from rich.table import Column

    column._table_column = Column(no_wrap=True)
    return column


class StepProgress:
    """Counts the steps of a job of ``total`` steps; call the instance once per finished step."""

    def __init__(self, label: str, total: int, quiet: bool = False, console: Console | None = None) -> None:
        self.label, self.total, self.quiet, self.done = label, max(int(total), 1), quiet, 0
        self.console = console or STDERR
        self.started = time.perf_counter()
        self.bar = self.task = None

    def __enter__(self) -> StepProgress:
        if not self.quiet and self.console.is_terminal:
            from rich.progress import TimeElapsedColumn, TimeRemainingColumn

            self.bar = _bar(self.label, self.console, TimeElapsedColumn(), TimeRemainingColumn(), detail=True)
            self.task = self.bar.add_task(self.label, total=self.total, detail="")
        return self

    def __call__(self, detail: str = "", steps: int = 1) -> None:
        self.done = min(self.done + steps, self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, detail=detail)
        elif not self.quiet:
            elapsed = time.perf_counter() - self.started
            self.console.print(f"{self.label}: {self.done}/{self.total} {detail} ({elapsed:.1f}s)", markup=False)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class RowProgress:
    """Progress of a job over rows whose total the first call tells: ``progress(rows_just_done, total)``.

    A rich bar with rows/s and ETA on a terminal; otherwise one line per call (a chunk); ``quiet`` silences it.
    """

    def __init__(self, label: str, quiet: bool = False, console: Console | None = None) -> None:
        self.label, self.quiet, self.console = label, quiet, console or STDERR
        self.done, self.started, self.bar, self.task = 0, time.perf_counter(), None, None

    def __enter__(self) -> RowProgress:
        if not self.quiet and self.console.is_terminal:
            from rich.progress import TaskProgressColumn, TextColumn, TimeRemainingColumn

            self.bar = _bar(self.label, self.console, TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
                            TimeRemainingColumn())
        return self

    def __call__(self, rows: int, total: int) -> None:
        self.done += rows
        rate = f"{self.done / max(time.perf_counter() - self.started, 1e-9):,.0f} rows/s"
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task(self.label, total=total, rate=rate)
            self.bar.update(self.task, completed=self.done, rate=rate)
        elif not self.quiet:
            self.console.print(f"{self.label}: {self.done:,}/{total:,} rows ({rate})", markup=False)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
