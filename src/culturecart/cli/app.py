"""The command line's frame: the typer app, the error contract every command runs under, and the consoles.

Exit codes (``culturecart.errors``): 0 success, 1 invalid input, 2 usage or configuration error, 3 internal
error (a bug: the traceback goes to a file, and to the screen only with ``--debug`` or
``CULTURECART_DEBUG=1``). Results go to stdout, messages to stderr; user data is never read as console markup.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup, TyperOption

from culturecart.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    CultureCartError,
)

# markup=False: paths, ids and values from the user's data are printed as they are, never as rich markup.
console = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
out = Console(soft_wrap=True, highlight=False, markup=False)
DEBUG_KEY = "culturecart.debug"


def error(message: str) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message))


class _WarningsOnce:
    """Shows each distinct warning once, as one plain line on stderr (no source line, no file:line)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message).strip()
        if text not in self.seen:
            self.seen.add(text)
            console.print(Text.assemble(("warning: ", "yellow"), text))


def _crash_report(exc: BaseException) -> Path | None:
    path = Path(tempfile.gettempdir()) / f"culturecart-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        path.write_text(f"culturecart {' '.join(sys.argv[1:])}\n\n"
                        + "".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return path


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same orderly stop as Ctrl-C (workers shut down, nothing half-written kept)."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


class GuardedGroup(TyperGroup):
    """Runs every command under the error contract: known errors -> their exit code, anything else -> 3."""

    def invoke(self, ctx: typer.Context):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        with warnings.catch_warnings():
            warnings.showwarning = _WarningsOnce()
            try:
                return super().invoke(ctx)
            except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own usage errors and exits
                raise
            except CultureCartError as exc:
                if _debug(ctx):
                    traceback.print_exc()
                error(str(exc))
                raise typer.Exit(code=exc.exit_code) from None
            except BrokenPipeError:  # the reader of stdout went away (`| head`): exit quietly, as Unix tools do
                _silence_stdout()
                raise typer.Exit(code=EXIT_BROKEN_PIPE) from None
            except SystemExit as exc:
                if isinstance(exc.__context__, BrokenPipeError):  # rich's console turns the broken pipe into this
                    _silence_stdout()
                    raise typer.Exit(code=EXIT_BROKEN_PIPE) from None
                raise
            except KeyboardInterrupt as exc:
                terminated = isinstance(exc, Terminated)
                error(("terminated (SIGTERM)" if terminated else "interrupted") + "; finished outputs are complete, "
                      "nothing half-written was kept (rerun the same command to resume a study)")
                raise typer.Exit(code=EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
            except BaseException as exc:  # a bug (EOFError too: click would turn it into a bare "Aborted!")
                if _debug(ctx):
                    traceback.print_exc()
                report = _crash_report(exc)
                where = f"; traceback written to {report}" if report else ""
                error(f"internal error (a bug in culturecart, please report it): {type(exc).__name__}: {exc}"
                      f"{where}; rerun with --debug to see it here")
                raise typer.Exit(code=EXIT_INTERNAL) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not raise (and print) the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or os.environ.get("CULTURECART_DEBUG", "") not in ("", "0")


EPILOG = ("Exit codes: 0 ok, 1 invalid input, 2 usage or configuration error, 3 internal error (traceback "
          "written to a file; --debug shows it), 4 the environment (disk full, no permission), 130 interrupted "
          "(Ctrl-C), 143 terminated (SIGTERM), 141 the reader of the output went away (| head); rerun an "
          "interrupted study to resume it.")


def examples(*lines: str) -> str:
    """A command's help epilog: its examples, one per paragraph (rich help keeps paragraphs apart)."""
    from rich.markup import escape

    return "\n\n".join(["Examples:", *(escape(f"  $ {line}") for line in lines)])


_display_type = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx) -> str | None:
    # A flag takes no value: typer would print <bool> beside it, which reads as if it took one.
    return None if self.is_flag else _display_type(self, ctx)


TyperOption.display_type_rich = _flag_without_type


def sub_app(help_text: str) -> typer.Typer:
    """A command group (``xmarket``, ``match``) under the same error contract."""
    return typer.Typer(help=help_text, no_args_is_help=True, epilog=EPILOG)


app = typer.Typer(help="Multimodal purchase prediction across cultures.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=GuardedGroup, epilog=EPILOG)


@app.callback()
def main(ctx: typer.Context,
         debug: Annotated[bool, typer.Option("--debug", help="show tracebacks (also CULTURECART_DEBUG=1)")] = False
         ) -> None:
    """Multimodal purchase prediction across cultures. Exit codes: 0 ok, 1 invalid input, 2 usage or config
    error, 3 internal error."""
    ctx.meta[DEBUG_KEY] = debug
