"""The ``culturecart`` command line: one module per command group, each parsing, calling the library, printing.

=================  =========================================================================
module             commands
=================  =========================================================================
``study``          ``study``, ``calibrate``
``data``           ``simulate``, ``validate``, ``encode``
``convert``        ``convert <format>`` (one per registered adapter), ``convert table`` (your own flat table)
``models``         ``rq1``, ``fit``, ``predict``
``info``           ``info`` (what a fitted folder holds)
``xmarket``        ``xmarket split | fit | predict | score``
``match``          ``match fit | predict | score``
=================  =========================================================================

Every command runs under the error contract of :mod:`culturecart.cli.app`.
"""

from culturecart.cli import convert, data, info, match, models, study, xmarket
from culturecart.cli.app import app, examples

COMMANDS = {
    "study": study.study, "calibrate": study.calibrate,
    "simulate": data.simulate, "validate": data.validate, "encode": data.encode_cmd,
    "rq1": models.rq1, "fit": models.fit, "predict": models.predict, "info": info.info,
}
EXAMPLES = {
    "study": ("culturecart study --preset twin --out runs/twin",
              "culturecart study my_study.yaml --out runs/mine --set rq1.models=[lightgbm] --set calibration=auto"),
    "calibrate": ("culturecart calibrate my_study.yaml --out runs/mine --replicates 100 --planted 20",),
    "simulate": ("culturecart simulate --out data/sim --users 500 --countries KR,US,DE",),
    "validate": ("culturecart validate data/mine", "culturecart validate data/mine --json --for score"),
    "encode": ("culturecart encode data/mine --text char-hash --image image-hash",),
    "rq1": ("culturecart rq1 data/mine --out runs/rq1 --models lightgbm,logistic --subsets full",),
    "fit": ("culturecart fit data/mine --out models/lgbm --model lightgbm",
            "culturecart fit data/mine --out models/tf --config predictor.yaml"),
    "predict": ("culturecart predict data/new --model-dir models/lgbm --out scores.parquet",
                "culturecart predict data/test --model-dir models/lgbm --out scores.csv --evaluate",
                "culturecart predict data/logs --model-dir models/lgbm --out scores --address tcp://HOST:8786"),
    "info": ("culturecart info models/lgbm",),
}
for _name, _command in COMMANDS.items():
    app.command(_name, epilog=examples(*EXAMPLES[_name]))(_command)
app.add_typer(convert.app, name="convert")
app.add_typer(xmarket.app, name="xmarket")
app.add_typer(match.app, name="match")

__all__ = ["COMMANDS", "app"]
