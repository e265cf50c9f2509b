"""The report's figures: placeholders while the sections are written, drawn together at the end."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from culturecart.parallel import parallel_map
from culturecart.report.format import img


class Figures:
    """The figures the sections ask for (a :mod:`~culturecart.report.plots` function and its arguments), each
    left as a placeholder while the sections are written and drawn all together at the end, in parallel where
    there are several processes: drawing is most of writing a report."""

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., str], tuple]] = []
        self.token = f"figure-{secrets.token_hex(8)}-"  # never in a section's own text

    def img(self, draw: Callable[..., str], args: tuple, alt: str) -> str:
        self.calls.append((draw, args))
        return img(f"{self.token}{len(self.calls) - 1}", alt)

    def drawn_into(self, text: str, n_jobs: int = 1) -> str:
        """``text`` with each placeholder replaced by its figure's PNG data URI."""
        uris = parallel_map(_draw, self.calls, n_jobs=n_jobs, backend="loky")
        return re.sub(re.escape(self.token) + r"(\d+)", lambda m: uris[int(m.group(1))], text)


def _draw(draw: Callable[..., str], args: tuple) -> str:
    return draw(*args)
