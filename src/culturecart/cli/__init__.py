"""The ``culturecart`` command line: one module per command group, each parsing, calling the library, printing.

=================  =========================================================================
module             commands
=================  =========================================================================
``study``          ``study``, ``calibrate``
``data``           ``simulate``, ``validate``, ``convert``, ``encode``
``models``         ``rq1``, ``fit``, ``predict``
``info``           ``info`` (what a fitted folder holds)
``xmarket``        ``xmarket split | fit | predict | score``
``match``          ``match fit | predict | score``
=================  =========================================================================

Every command runs under the error contract of :mod:`culturecart.cli.app`.
"""

from culturecart.cli import data, info, match, models, study, xmarket
from culturecart.cli.app import app

COMMANDS = {
    "study": study.study, "calibrate": study.calibrate,
    "simulate": data.simulate, "validate": data.validate, "convert": data.convert, "encode": data.encode_cmd,
    "rq1": models.rq1, "fit": models.fit, "predict": models.predict, "info": info.info,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)
app.add_typer(xmarket.app, name="xmarket")
app.add_typer(match.app, name="match")

__all__ = ["COMMANDS", "app"]
