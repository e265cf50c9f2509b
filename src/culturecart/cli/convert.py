"""``culturecart convert``: a public format by name (one command per registered adapter, with its own options), or
your own flat table (``convert table``) into a canonical dataset folder."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from culturecart.cli.app import EPILOG, examples, out
from culturecart.data.adapters import ADAPTERS, AdapterEntry
from culturecart.errors import UsageError


class _Formats(TyperGroup):
    """An unknown format is answered with the formats there are (not click's bare "No such command")."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise UsageError(f"unknown format {name!r}; choose one of: {ADAPTERS.choices()}; or table (your own "
                             "flat table)")
        return super().resolve_command(ctx, args)


app = typer.Typer(help="Convert data into a canonical dataset folder: a public format by name, or your own flat "
                       "table (convert table).", no_args_is_help=True, epilog=EPILOG, cls=_Formats)

OUT = Annotated[Path, typer.Option("--out", help="dataset folder to write")]
LIMIT = Annotated[int | None, typer.Option(help="read only the first N source rows", min=1)]
OVERWRITE = Annotated[bool, typer.Option(help="replace an existing non-empty folder")]
QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")]
FILE_ROWS = Annotated[int | None, typer.Option(help="write the events as a folder events/ of Parquet files of at "
                                                    "most N rows (for data larger than memory)", min=1)]


def _convert(read, src: Path, out_dir: Path, overwrite: bool, quiet: bool, what: str,
             reads: list[Path | None], events_file_rows: int | None = None) -> None:
    """Check the output folder, then read and validate (``read()``), then write: two steps of progress."""
    from culturecart.atomic import check_output_dir
    from culturecart.progress import StepProgress

    check_output_dir(out_dir, overwrite=overwrite, reads=reads)  # before reading anything
    with StepProgress(f"convert {what}", 2, quiet) as step:
        ds = read()
        step(f"read and validated {src.name}: " + ", ".join(f"{t} {len(ds.table(t)):,}" for t in ds.tables()))
        ds.save(out_dir, overwrite=overwrite, events_file_rows=events_file_rows)
        step(f"written to {out_dir}")
    out.print(f"wrote {out_dir}: " + ", ".join(f"{t} {len(ds.table(t)):,}" for t in ds.tables()))


def _adapter_command(entry: AdapterEntry):
    """The ``convert <format>`` command of one adapter: its source, the shared options and its own."""

    def command(src: Path, out_dir: Path, limit: int | None = None, overwrite: bool = False, quiet: bool = False,
                events_file_rows: int | None = None, **options: Any) -> None:
        from culturecart.data.adapters import convert

        paths = [v for v in options.values() if isinstance(v, Path)]
        _convert(lambda: convert(entry.name, src, limit=limit, **options), src, out_dir, overwrite, quiet,
                 entry.name, [src, *paths], events_file_rows)

    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("src", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=Annotated[Path, typer.Argument(help="source file or folder")]),
        inspect.Parameter("out_dir", kw, annotation=OUT),
        *(inspect.Parameter(o.name, kw, default=o.default, annotation=Annotated[
            o.kind | None if o.default is None else o.kind, typer.Option(help=o.help)]) for o in entry.options),
        inspect.Parameter("limit", kw, default=None, annotation=LIMIT),
        inspect.Parameter("events_file_rows", kw, default=None, annotation=FILE_ROWS),
        inspect.Parameter("overwrite", kw, default=False, annotation=OVERWRITE),
        inspect.Parameter("quiet", kw, default=False, annotation=QUIET),
    ]
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = f"Convert {entry.description}."
    command.__name__ = f"convert_{entry.name.replace('-', '_')}"
    return command


for _entry in ADAPTERS.entries:
    folder = _entry.shared_folder.split("/")[0]
    app.command(_entry.name, epilog=examples(
        f"culturecart convert {_entry.name} $CULTURECART_DATA/{_entry.shared_folder} --out data/{folder}"))(
        _adapter_command(_entry))
    for _alias in _entry.aliases:
        app.command(_alias, hidden=True)(_adapter_command(_entry))


def _columns(value: str | None) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()] if value else []


@app.command("table", epilog=examples(
    "culturecart convert table sessions.csv --label bought --user customer --item sku --country nation "
    "--offer price,discount --out data/mine",
    "culturecart convert table sessions.parquet --roles roles.yaml --out data/mine"))
def convert_table(
    src: Annotated[Path, typer.Argument(help="a flat table: .csv, .csv.gz, .tsv or .parquet, one row per shown "
                                             "offer")],
    out_dir: OUT,
    label: Annotated[str | None, typer.Option(help="the 0/1 purchase label column")] = None,
    item: Annotated[str | None, typer.Option(help="the item id column")] = None,
    user: Annotated[str | None, typer.Option(help="the user id column")] = None,
    session: Annotated[str | None, typer.Option(help="the session id column (absent: a user's events split "
                                                     "where 30 minutes pass without one)")] = None,
    time: Annotated[str | None, typer.Option(help="the event time column")] = None,
    country: Annotated[str | None, typer.Option(help="the user's country column (ISO 3166 alpha-2 codes or country names)")] = None,
    consumer: Annotated[str | None, typer.Option(help="user attribute columns, comma-separated")] = None,
    offer: Annotated[str | None, typer.Option(help="item attribute columns, comma-separated")] = None,
    text: Annotated[str | None, typer.Option(help="item text columns, comma-separated")] = None,
    images: Annotated[str | None, typer.Option(help="the item image path column")] = None,
    behaviour: Annotated[str | None, typer.Option(help="per-event columns, comma-separated")] = None,
    roles: Annotated[Path | None, typer.Option(help="a YAML file of the same roles (label: bought, item: sku, "
                                                    "offer: [price, discount], ...) instead of the options")] = None,
    limit: LIMIT = None,
    overwrite: OVERWRITE = False,
    events_file_rows: FILE_ROWS = None,
    quiet: QUIET = False,
) -> None:
    """Convert your own flat table (one row per shown offer) by naming what each column is."""
    from culturecart.config_files import load_model_file
    from culturecart.data.adapters.table import read_flat_table
    from culturecart.data.dataset import Dataset
    from culturecart.data.frame import Roles, make_roles

    given = {k: v for k, v in {"label": label, "item": item, "user": user, "session": session, "time": time,
                               "country": country}.items() if v is not None}
    lists = {k: _columns(v) for k, v in {"consumer": consumer, "offer": offer, "text": text, "images": images,
                                          "behaviour": behaviour}.items() if v}
    if roles is not None:
        if given or lists:
            raise UsageError("give the column roles either in --roles or as options, not both")
        chosen = load_model_file(Roles, roles, "roles file")
    elif "item" not in given:
        raise UsageError("name the item id column (--item COLUMN), or give a --roles file")
    else:
        chosen = make_roles(**given, **lists)
    def read():
        from culturecart.data.validate import require_valid

        ds = Dataset.from_frame(read_flat_table(src, limit), **chosen.model_dump(), name=src.name.split(".")[0])
        return require_valid(ds, purpose="study" if chosen.label else "score", check_images=False)

    _convert(read, src, out_dir, overwrite, quiet, "table", [src, roles], events_file_rows)
