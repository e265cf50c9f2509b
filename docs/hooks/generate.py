"""MkDocs hook: the reference pages, generated from the code at build time (never committed).

* ``reference/cli.md``: every command of the ``culturecart`` app, its help, options and examples;
* ``reference/config.md``: every key of the study configuration (and of the predictor, encoders and column-roles
  files) with its type, default and description, from the pydantic models;
* ``reference/schema.md``: the canonical tables from ``culturecart.data.schema.SCHEMAS``;
* tables of measured figures where a page says ``<!-- generated: NAME -->`` (``performance``: every benchmark;
  ``calibration_threshold``, ``report_validity``, ``wsdm_dev``, ``xmarket``, ``predict_scale``: one
  benchmark each), from ``benchmarks/results/*.json``, each with
  its command, commit, date and machine.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


# ---- command line ----

def _commands(command, path: str):
    if hasattr(command, "commands"):  # a group (typer carries its own copy of click: no isinstance)
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from _commands(sub, f"{path} {name}")
    else:
        yield path, command


def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def cli_page() -> str:
    import typer.main

    from culturecart.cli import app

    root = typer.main.get_command(app)
    out = ["# Command line", "", "Generated from the commands themselves (`culturecart COMMAND --help` shows the same).",
           "", "| command | what it does |", "|---|---|"]
    commands = list(_commands(root, "culturecart"))
    out += [f"| [`{p}`](#{p.replace(' ', '-')}) | {_cell((c.help or '').split(chr(10))[0])} |" for p, c in commands]
    for path, command in commands:
        out += ["", f"## {path}", "", (command.help or "").strip(), "",
                f"```text\n{path} [OPTIONS] {' '.join(p.name.upper() for p in command.params if _is_argument(p))}\n```",
                "", "| option | type | default | meaning |", "|---|---|---|---|"]
        for p in command.params:
            if _is_argument(p):
                continue
            names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            kind = "flag" if getattr(p, "is_flag", False) else (p.bare_type() if hasattr(p, "bare_type") else "")
            default = "" if p.default is None or p.default is False or callable(p.default) else f"`{p.default}`"
            if p.required:
                default = "required"
            out.append(f"| {names} | {kind} | {default} | {_cell(getattr(p, 'help', '') or '')} |")
        args = [p for p in command.params if _is_argument(p)]
        if args:
            out += ["", "Arguments: " + "; ".join(f"`{a.name}`: {_cell(getattr(a, 'help', '') or '')}" for a in args)]
        if command.epilog:
            examples = [line.strip().removeprefix("$ ") for line in command.epilog.split("\n\n")[1:]]
            out += ["", "Examples:", "", "```bash", *examples, "```"]
    return "\n".join(out) + "\n"


# ---- configuration ----

def _type(annotation) -> str:
    text = str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
    for prefix in ("culturecart.study.config.", "culturecart.encoders.config.", "culturecart.data.frame."):
        text = text.replace(prefix, "")
    return text


def _fields(model, prefix: str):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        nested = isinstance(ann, type) and issubclass(ann, BaseModel)
        if nested:
            yield key, "section", "", (ann.__doc__ or "").strip().split("\n\n")[0]
            yield from _fields(ann, key + ".")
            continue
        default = field.default if field.default_factory is None else field.default_factory()
        shown = "" if default is None or default is Ellipsis else f"`{json.dumps(default, default=str)}`"
        if field.is_required():
            shown = "required"
        yield key, _type(ann), shown, field.description or ""


def _model_table(title: str, intro: str, model, prefix: str = "") -> list[str]:
    out = ["", f"## {title}", "", intro, "", "| key | type | default | meaning |", "|---|---|---|---|"]
    out += [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(m)} |" for k, t, d, m in _fields(model, prefix)]
    return out


def config_page() -> str:
    from culturecart.data.frame import Roles
    from culturecart.data.simulate import SimulationConfig
    from culturecart.encoders import EncodersConfig
    from culturecart.predictor import PredictorConfig
    from culturecart.study.config import StudyConfig

    out = ["# Configuration", "",
           "Generated from the pydantic models that validate every file. A study reads the package defaults, then a "
           "preset (`--preset twin`), then your file, then `--set key.sub=value` overrides; a wrong key is named "
           "with the valid ones beside it. In files, `${NAME}` expands from the environment (`${CULTURECART_DATA}` "
           "defaults to the shared data folder) and relative paths are relative to the file's folder."]
    out += _model_table("Study (`culturecart study FILE`)", "Every key of a study file.", StudyConfig)
    out += _model_table("Simulated marketplace (`data.simulate`)", "The simulator's settings (`data: {preset: twin, "
                        "simulate: {...}}`, and `culturecart simulate`).", SimulationConfig, "data.simulate.")
    out += _model_table("Predictor (`culturecart fit --config FILE`)", "A predictor file.", PredictorConfig)
    out += _model_table("Encoders (`culturecart encode --config FILE`)", "An encoders file.", EncodersConfig)
    out += _model_table("Column roles (`culturecart convert table --roles FILE`)", "What each column of a flat table "
                        "is (the same names as `Dataset.from_frame`'s keywords).", Roles)
    return "\n".join(out) + "\n"


# ---- schema ----

def schema_page() -> str:
    from culturecart.data.schema import BEHAVIOUR_PREFIX, SCHEMAS

    out = ["# Data schema", "", "Generated from `culturecart.data.schema.SCHEMAS`, the one declaration every command "
           "validates against. Other columns are allowed and carried along (on events, each is a behaviour "
           f"feature; `{BEHAVIOUR_PREFIX}*` marks them by convention)."]
    for name, schema in SCHEMAS.items():
        out += ["", f"## {name}", "", "| column | type | required | missing allowed | unique | checks |",
                "|---|---|---|---|---|---|"]
        for col, spec in schema.columns.items():
            checks = ", ".join(c.name for c in spec.checks if c.name) or ""
            out.append(f"| `{col}` | {spec.dtype} | {'yes' if spec.required else ''} | "
                       f"{'yes' if spec.nullable else ''} | {'yes' if spec.unique else ''} | {_cell(checks)} |")
    return "\n".join(out) + "\n"


# ---- performance ----

def _figures(figures: dict, limit: int = 8) -> str:
    shown = []
    for key, value in figures.items():
        if isinstance(value, bool | int | float) and key not in ("seed",):
            shown.append(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}")
        elif isinstance(value, dict) and value and all(isinstance(v, int | float) for v in value.values()):
            shown.append(f"{key} " + ", ".join(f"{k} {v:g}" for k, v in list(value.items())[:6]))
        if len(shown) >= limit:
            break
    return "; ".join(shown)


def performance_table() -> str:
    rows = ["| benchmark | figures (the script's last line; all of them in the file) | command | commit | measured | "
            "machine |", "|---|---|---|---|---|---|"]
    files = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    for path in files:
        record = json.loads(path.read_text("utf-8"))
        rows.append(f"| [`{path.stem}`](https://github.com/culturecart/culturecart/blob/main/benchmarks/results/"
                    f"{path.name}) | {_cell(_figures(record.get('figures', {})))} | `{_cell(record.get('command', ''))}` "
                    f"| {record.get('commit', '')} | {record.get('measured', '')[:10]} | {_cell(record.get('machine', ''))} |")
    if not files:
        rows.append("| (no results yet: run a benchmark) | | | | | |")
    return "\n".join(rows)


def _result(name: str) -> dict | None:
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def _source(record: dict) -> str:
    return (f"*Measured by `{record['command']}` at commit {record.get('commit', '?')} on "
            f"{record.get('measured', '?')[:10]} ({record.get('machine', '?')}).*")


def calibration_threshold_table() -> str:
    record = _result("calibration_threshold")
    if record is None:
        return "*(not measured yet: run `python benchmarks/calibration_threshold.py`)*"
    f = record["figures"]
    rows = ["| users per country | false-positive rate at 5% | 95% interval | tests |", "|---|---|---|---|"]
    rows += [f"| {u} | {f['fpr'][u]:.3f} | [{f['fpr_ci'][u][0]:.3f}, {f['fpr_ci'][u][1]:.3f}] | {f['tests'][u]:,} |"
             for u in f["fpr"]]
    return "\n".join(rows + ["", f"Threshold by the rule: **{f['threshold']}** users per country (the code's "
                                  f"`SMALL_DESIGN_USERS`: {f['threshold_in_code']}). " + _source(record)])


def report_validity_table() -> str:
    record = _result("report_validity")
    if record is None:
        return "*(not measured yet: run `python benchmarks/report_validity.py`)*"
    f = record["figures"]
    n, p = f["null"], f["planted"]
    fam = ", ".join(f"{k} {v[0]} of {v[1]}" for k, v in n["by_family"].items())
    rows = ["| what | figure |", "|---|---|",
            f"| nothing planted: tests labelled *clear* or *likely* | {n['per_test_rate']:.4f} [{n['per_test_ci'][0]:.4f}, "
            f"{n['per_test_ci'][1]:.4f}] of {n['tests']:,} tests ({fam}) |",
            f"| nothing planted: reports with any RQ3/RQ4 finding labelled *clear* or *likely* | {n['per_report_rate']:.2f} "
            f"[{n['per_report_ci'][0]:.2f}, {n['per_report_ci'][1]:.2f}] of {n['reports']} reports "
            f"({n['calibrated_designs']} calibrated) |",
            f"| planted at twice the default size: differences labelled *clear* or *likely* | {p['labelled_share']:.3f} of "
            f"{p['differences']} |",
            f"| the same test's measured power without the correction | {p['power']:.3f} (gap {p['gap']:+.3f}) |"]
    return "\n".join(rows + ["", _source(record)])


def wsdm_dev_table() -> str:
    record = _result("wsdm_dev")
    if record is None:
        return "*(not measured yet: run `python benchmarks/wsdm_dev.py`)*"
    # Part runs (``--arms ... --variant NAME``) add the models the whole run does not have, marked with their run.
    f = record["figures"]
    targets = [t for t in ("s3", "t2") if t in f]
    parts = [part for path in sorted((ROOT / "benchmarks" / "results").glob("wsdm_dev.*.json"))
             if any(t in (part := json.loads(path.read_text("utf-8")))["figures"] for t in targets)]
    models = {m: [f[t].get(m) for t in targets] for m in dict.fromkeys(m for t in targets for m in f[t])}
    seen = set(models)  # a model is shown once: from the whole run, else from the first part run that has it
    for k, part in enumerate(parts, start=1):
        for m in dict.fromkeys(m for t in targets for m in part["figures"].get(t, {})):
            if m not in seen:
                seen.add(m)
                models[f"{m} <sup>{k}</sup>"] = [part["figures"].get(t, {}).get(m) for t in targets]
    rows = ["| model | " + " | ".join(f"{t} nDCG@10 [95% interval]" for t in targets) + " |",
            "|---|" + "---|" * len(targets)]
    for m, values in models.items():
        cells = [f"{v[0]:.4f} [{v[1]:.4f}, {v[2]:.4f}] ({v[5]:.0f} s)" if v else "" for v in values]
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    for t, anchors in f.get("anchors", {}).items():
        rows.append("| " + "; ".join(f"{k} {v}" for k, v in anchors.items()) + " | " + " | ".join(
            "recorded in the issue, not this run" if x == t else "" for x in targets) + " |")
    note = ("s3: the official validation candidates; t2: sampled lists (99 uniform 5-core items and the positive). "
            "Ties count against the positive (the official evaluator does not). Seconds are the fit's. Published "
            "figures exist for the withheld market t1 only: "
            + ", ".join(f"{k} {v}" for k, v in f.get("published_t1", {}).items()) + ".")
    sources = [_source(record)] + [f"<sup>{k}</sup> {_source(part)}" for k, part in enumerate(parts, start=1)]
    return "\n".join(rows + ["", note, "", *[s + "\n" for s in sources]]).rstrip()


_MODEL_NAMES = {"rerank": "re-ranker", "ease": "EASE", "itemknn": "item-kNN"}


def _scope_words(market: str, name: str) -> str:
    """``rerank/all-but:fr`` as "re-ranker, all but fr"; ``ease/pairwise:mx`` as "EASE, in + mx"."""
    model, _, scope = name.partition("/")
    kind, _, source = scope.partition(":")
    where = {"pairwise": f"{market} + {source}", "all-but": f"all but {source}"}.get(kind, kind)
    return f"{_MODEL_NAMES.get(model, model)}, {where}" if scope else name


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def xmarket_table() -> str:
    record = _result("xmarket")
    if record is None:
        return "*(not measured yet: run `python benchmarks/xmarket.py`)*"
    f = record["figures"]
    rows = ["| market | chosen on validation | test nDCG@10 [95% interval] | local re-ranker [95% interval] | "
            "local popularity | best published (method) | chosen vs local, BH p |", "|---|---|---|---|---|---|---|"]
    for m, chosen in f["chosen_scope"].items():
        ci, local_ci = f["chosen_ci"][m], f["local_rerank_ci"][m]
        rows.append(f"| {m} | {_scope_words(m, chosen)} | {f['ndcg10'][m][chosen]:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] | "
                    f"{f['ndcg10'][m]['rerank/local']:.4f} [{local_ci[0]:.4f}, {local_ci[1]:.4f}] | "
                    f"{f['ndcg10'][m]['popularity-local']:.4f} | {f['best_published'][m]:.4f} "
                    f"({f['best_published_method'][m]}) | {_p(f['chosen_vs_local_p_bh'][m])} |")
    n = len(f["chosen_scope"])
    notes = [f"Above the best published figure: {f['markets_beating_best_published']} of {n} markets by the point "
             f"estimate, {f['markets_beating_best_published_ci']} with the interval's lower end above it."]
    if "gain_matrix" in f:
        gains = [v[0] for row in f["gain_matrix"].values() for v in row.values()]
        above = sum(v[1] > 0 for row in f["gain_matrix"].values() for v in row.values())
        notes.append(f"Gain matrix (the re-ranker, target + one source minus local, test nDCG@10): "
                     f"{sum(g > 0 for g in gains)} of {len(gains)} pairs positive ({above} with the interval above 0), "
                     f"from {min(gains):+.4f} to {max(gains):+.4f}; its correlation with the Hofstede distance of the "
                     f"two countries r = {f['gain_hofstede_r']:.2f} (Mantel p = {f['gain_hofstede_p']:.2f}), "
                     f"partial r given the source's size {f['gain_hofstede_partial_r']:.2f} "
                     f"(p = {f['gain_hofstede_partial_p']:.2f}).")
    full = f.get("full_catalogue", {})
    if full:
        rerank = [v["ndcg10"] for k, v in full.items() if k.split(":", 1)[1].startswith("rerank/")]
        pop = [v["ndcg10"] for k, v in full.items() if k.endswith(":popularity-local")]
        notes.append(f"Full catalogue (no sampling): the re-ranker's nDCG@10 {min(rerank):.2f}-{max(rerank):.2f} "
                     f"against local popularity's {min(pop):.2f}-{max(pop):.2f}.")
    if "seconds" in f:
        notes.append(f"{f['seconds'] / 60:.0f} min on {f.get('jobs', 1)} worker(s).")
    return "\n".join(rows + ["", " ".join(notes), "", _source(record)])


def predict_scale_table() -> str:
    record = _result("predict_scale")
    if record is None:
        return "*(not measured yet: run `python benchmarks/predict_scale.py`)*"
    f = record["figures"]
    rows = ["| events | rows/s end to end | share of the bare booster's rows/s | peak RSS (MB) |", "|---|---|---|---|"]
    for size, r in sorted(f["sizes"].items(), key=lambda kv: kv[1]["rows"]):
        rows.append(f"| {r['rows']:,} ({size}) | {r['rows_per_s']:,} | {r['ratio_to_booster']:.2f} | "
                    f"{r['peak_rss_mb']['peak']:,.0f} |")
    ratio = next((v for k, v in f.items() if k.startswith("peak_rss_ratio_")), None)
    w = f["whole_table_1x"]
    return "\n".join(rows + ["", f"Peak RSS ratio largest / smallest: **{ratio}**; bare booster "
                                  f"{f['booster_rows_per_s']:,} rows/s on the same batches; the whole-table path on "
                                  f"the base events: {w['rows_per_s']:,} rows/s, peak RSS {w['peak_rss_mb']:,.0f} MB. "
                                  + _source(record)])


GENERATED = {"performance": performance_table, "calibration_threshold": calibration_threshold_table,
             "report_validity": report_validity_table, "wsdm_dev": wsdm_dev_table, "xmarket": xmarket_table,
             "predict_scale": predict_scale_table}


# ---- MkDocs events ----

PAGES = {"reference/cli.md": cli_page, "reference/config.md": config_page, "reference/schema.md": schema_page}


def on_files(files, config):
    from mkdocs.structure.files import File

    for uri, build in PAGES.items():
        files.append(File.generated(config, uri, content=build()))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    for name, build in GENERATED.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, build())
    return markdown

