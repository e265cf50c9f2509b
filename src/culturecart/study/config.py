"""Study settings: pydantic models loaded from layered YAML.

Layers, later ones win: the package defaults (``defaults.yaml``), a preset (``presets/<name>.yaml``),
the user's file, then dotted ``key=value`` overrides from the command line (values parsed as YAML:
``rq5.seeds=2``, ``rq1.models=[lightgbm,logistic]``). Unknown keys and bad values are errors that name
the key and list the valid keys.

Example:
    >>> cfg = load_config(preset="twin", overrides=["rq5.seeds=1"])
    >>> cfg.rq5.seeds, cfg.data.preset
    (1, 'twin')
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from culturecart.config_files import expand_variables, parse_yaml, read_text_file, resolve_paths
from culturecart.encoders import EncodersConfig
from culturecart.errors import ConfigError
from culturecart.parallel import BACKENDS

PRESETS = ("twin", "twin-small")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    preset: Literal["twin"] | None = Field(None, description="simulate the built-in marketplace")
    path: str | None = Field(None, description="a canonical dataset folder (see culturecart convert)",
                             json_schema_extra={"path": True})
    markets: str | None = Field(None, description="a markets folder (ratings per market; see culturecart xmarket "
                                                  "split): RQ3 and RQ5 for rankers", json_schema_extra={"path": True})
    simulate: dict[str, Any] = Field(default_factory=dict, description="SimulationConfig settings")
    check_images: bool = True


class SplitSection(_Section):
    by: Literal["user", "session", "item", "time"] = "user"
    test_share: float = Field(0.2, gt=0, lt=1)
    valid_share: float = Field(0.1, gt=0, lt=1)


def _known_metrics(value: list[str]) -> list[str]:
    from culturecart.evaluate.metrics import METRICS

    return [METRICS.canonical(v) for v in value]  # an unknown name lists the metrics


class RQ1Section(_Section):
    enabled: bool = True
    split: SplitSection = Field(default_factory=lambda: SplitSection(by="item"))
    models: list[str] = Field(default_factory=lambda: ["lightgbm"])
    subsets: Literal["all", "full"] = "all"
    extra: list[str] = Field(default_factory=list, description="models run on all modalities only")
    metrics: list[str] = Field(default_factory=lambda: ["roc_auc", "pr_auc", "log_loss", "brier", "ece",
                                                        "ndcg@10", "mrr"])
    n_boot: int = Field(200, ge=10)
    model_options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-model overrides")

    _metrics = field_validator("metrics")(classmethod(lambda cls, v: _known_metrics(v)))

    @field_validator("models", "extra")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from culturecart.models.registry import model_spec

        return [model_spec(v).name for v in value]  # an unknown name lists the models

    @field_validator("model_options")
    @classmethod
    def _options_fit(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from culturecart.models.registry import check_options

        for name, options in value.items():  # checked here, not when a unit first builds the model
            check_options(name, options)
        return value


class CultureSection(_Section):
    split: SplitSection = Field(default_factory=SplitSection)
    model: str = "lightgbm"
    model_options: dict[str, Any] = Field(default_factory=lambda: {"learning_rate": 0.1, "early_stopping_rounds": 30,
                                                                   "n_estimators": 500})
    hofstede_path: str | None = Field(None, description="a Hofstede file for countries the package lacks",
                                      json_schema_extra={"path": True})

    @model_validator(mode="after")
    def _options_fit(self) -> CultureSection:
        from culturecart.models.registry import check_options

        check_options(self.model, self.model_options)
        return self


class RQ2Section(_Section):
    enabled: bool = Field(True, description="explain RQ1's models: modality Shapley values, TreeSHAP, attention")


class RQ3Section(_Section):
    enabled: bool = True
    scopes: list[Literal["global", "local", "culture", "finetune"]] = Field(
        default_factory=lambda: ["global", "local", "culture", "finetune"])
    metrics: list[str] = Field(default_factory=lambda: ["roc_auc", "ndcg@10"])
    n_boot: int = Field(200, ge=10)
    min_test_rows: int = Field(200, ge=1)

    _metrics = field_validator("metrics")(classmethod(lambda cls, v: _known_metrics(v)))


class RQ4Section(_Section):
    enabled: bool = True
    rows: Literal["auto", "clicked", "all"] = "auto"
    features: list[str] | None = None
    min_rows: int = Field(100, ge=10)
    alpha: float = Field(0.1, gt=0, lt=1, description="significance level of the literature verdicts")
    n_boot: int = Field(200, ge=10, description="user bootstrap resamples of the slopes (recovery intervals)")


class RQ5Section(_Section):
    enabled: bool = True
    targets: list[str] | Literal["auto"] = "auto"
    n_auto_targets: int = Field(2, ge=1, description="'auto': this many countries, the smallest with enough data")
    fractions: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.25, 0.5, 1.0])
    arms: list[Literal["local", "global", "culture"]] = Field(default_factory=lambda: ["local", "global", "culture"])
    seeds: int = Field(3, ge=1)
    sources: list[str] | None = None
    n_boot: int = Field(200, ge=10, description="user bootstrap resamples of each curve point's interval")

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        bad = [f for f in value if not 0 <= f <= 1]
        if bad or not value:
            raise ValueError(f"fractions are shares of the target's training rows, each in [0, 1]; got {value}")
        return value


class MatchingSection(_Section):
    enabled: bool = False
    input: str | None = Field(None, description="Shopee-format CSV; default: the simulated variant families",
                              json_schema_extra={"path": True})
    folds: int = Field(5, ge=2)


class RankingSection(_Section):
    """RQ3 / RQ5 on a markets folder (``data.markets``): one ranker in every scope, gains and learning curves."""

    model: Literal["itemknn", "ease", "popularity"] = Field(
        "itemknn", description="a ranker whose scores follow the user's history, so a model fitted on part of the "
                               "target's data (or none: zero-shot) still scores every target user")
    model_options: dict[str, Any] = Field(default_factory=dict, description="e.g. {l2: 200} for ease")
    scopes: list[Literal["local", "global", "culture"]] = Field(
        default_factory=lambda: ["local", "global", "culture"])
    gain_matrix: bool = Field(True, description="RQ5: every source x target pair (target + one source vs local)")
    fractions: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 1.0],
                                   description="RQ5 learning curves: shares of the target's training interactions")
    arms: list[Literal["local", "global"]] = Field(default_factory=lambda: ["local", "global"])
    seeds: int = Field(1, ge=1, description="subsamples per fraction below 1")
    n_boot: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _options_fit(self) -> RankingSection:
        from culturecart.ranking.registry import RANKERS
        from culturecart.registry import import_target

        # The ranker's typed config, checked now (its class module imports no more than scipy and pandas).
        cls = import_target(RANKERS.resolve(self.model).target)
        cls.make_config(**self.model_options)
        return self

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        bad = [f for f in value if not 0 <= f <= 1]
        if bad:
            raise ValueError(f"fractions must lie in [0, 1], got {bad}")
        return sorted(set(value))


class CalibrationSection(_Section):
    """Calibration replicates: false-positive rates, calibrated p-values and power of RQ3/RQ4 on the study's own
    design. ``auto`` (the default): on a small design (fewer users per country than
    :data:`culturecart.culture.trust.SMALL_DESIGN_USERS`, where cluster-robust Wald tests reject a true null far too
    often) the study runs enough null replicates to calibrate RQ4's heterogeneity p-values, and only those; on a
    large design the asymptotic tests stand and the report says why. A number runs that many null replicates and
    the planted ones (``culturecart calibrate``); 0 turns calibration off."""

    replicates: int | Literal["auto"] = Field("auto", description="null replicates (labels with no cultural "
                                                                  "differences); auto: as the design needs; 0: off")
    planted_replicates: int | None = Field(None, ge=1, description="replicates per planted scale (default: a "
                                                                    "fifth of replicates, at least 5)")
    scales: list[float] = Field(default_factory=lambda: [0.5, 1.0, 2.0],
                                description="the fitted country differences times these factors (power)")
    alpha: float = Field(0.05, gt=0, lt=1, description="level of the heterogeneity and Hofstede tests")
    rq3: bool = Field(True, description="also rerun RQ3's scope comparison on each replicate")

    @field_validator("scales")
    @classmethod
    def _scales(cls, value: list[float]) -> list[float]:
        bad = [s for s in value if not s > 0]
        if bad or not value:
            raise ValueError(f"scales must be positive factors (the null, 0, always runs), got {value}")
        return sorted(set(value))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:  # `calibration: auto`, `calibration: 0`, `calibration: 100`
        return {"replicates": value} if isinstance(value, str | int) and not isinstance(value, bool) else value

    @field_validator("replicates", mode="before")
    @classmethod
    def _replicates(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("auto", "off"):
            return "auto" if value.strip().lower() == "auto" else 0
        return value

    @property
    def auto(self) -> bool:
        return self.replicates == "auto"

    @property
    def per_scale(self) -> int:
        if self.auto:
            return 0  # auto calibrates the verdicts' p-values; power needs `culturecart calibrate`
        return self.planted_replicates or max(5, self.replicates // 5)


class ParallelSection(_Section):
    n_jobs: int = Field(-1, ge=-1, description="units computed at once, -1 = one per core (with dask or ray: "
                                              "tasks in flight)")
    backend: str = "loky"
    address: str | None = Field(None, description="dask: the scheduler of an existing cluster (tcp://host:8786); "
                                                   "ray: the cluster address (ray://host:10001)")

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, value: int) -> int:
        if value == 0:
            raise ValueError("n_jobs must be a positive count or -1 (one per core)")
        return value

    connect_timeout: float = Field(10.0, gt=0, description="seconds to reach the dask or ray cluster before giving up "
                                                            "(exit code 4)")

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; valid: {list(BACKENDS)}")
        return value

    @model_validator(mode="after")
    def _cluster(self) -> ParallelSection:
        package = {"dask": "distributed", "ray": "ray"}.get(self.backend)
        if package is None:
            return self
        import importlib.util

        if importlib.util.find_spec(package) is None:
            extra = "pip install 'culturecart[dask]'" if package == "distributed" else "pip install ray"
            raise ValueError(f"backend {self.backend} needs the {package} package ({extra}), or use backend loky")
        if self.backend == "dask" and not self.address:
            raise ValueError("backend dask needs parallel.address, the scheduler of a running cluster "
                             "(tcp://host:8786); for local processes use backend loky")
        return self


class StudyConfig(_Section):
    name: str = "culturecart study"
    seed: int = 0
    data: DataSection = Field(default_factory=DataSection)
    encoders: EncodersConfig = Field(default_factory=EncodersConfig)
    embedding_dim: int | None = Field(32, ge=2)
    rq1: RQ1Section = Field(default_factory=RQ1Section)
    rq2: RQ2Section = Field(default_factory=RQ2Section)
    culture: CultureSection = Field(default_factory=CultureSection)
    rq3: RQ3Section = Field(default_factory=RQ3Section)
    rq4: RQ4Section = Field(default_factory=RQ4Section)
    rq5: RQ5Section = Field(default_factory=RQ5Section)
    matching: MatchingSection = Field(default_factory=MatchingSection)
    ranking: RankingSection = Field(default_factory=RankingSection)
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
    parallel: ParallelSection = Field(default_factory=ParallelSection)


def _read(text: str, where: str) -> dict:
    value = parse_yaml(text, where) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of settings")
    return value


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# Paths inside free-form sections (data.simulate is SimulationConfig's settings as a mapping).
FREE_FORM_PATHS = (("data", "simulate", "rules_path"), ("data", "simulate", "hofstede_path"))


def overrides_tree(assignments: list[str]) -> dict:
    """``key.subkey=value`` assignments (values read as YAML, ``${NAME}`` expanded) as a nested dict.

    Example:
        >>> overrides_tree(["trees=100", "labelled_lists=[s1, s2]"])
        {'trees': 100, 'labelled_lists': ['s1', 's2']}
    """
    tree: dict = {}
    for assignment in assignments:
        _set_dotted(tree, assignment)
    return tree


def _set_dotted(tree: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} must look like key.subkey=value")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {assignment!r} has no key")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {assignment!r}: {p!r} is not a section")
    value = parse_yaml(raw, f"override {assignment!r}") if raw.strip() else None
    node[parts[-1]] = expand_variables(value, f"override {assignment!r}")


def _valid_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return sorted(model.model_fields)


def _explain(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting; valid keys here: {_valid_keys(e['loc'])}")
        elif e["type"] == "value_error":  # a check of ours: its message names what is wrong and the choices
            lines.append(f"{key}: {e['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{key}: {e['msg']} (got {e.get('input')!r})")
    return "invalid study config:\n  " + "\n  ".join(lines)


def load_config(path: str | Path | None = None, preset: str | None = None,
                overrides: list[str] | None = None) -> StudyConfig:
    """Defaults, then ``preset``, then the file at ``path``, then ``overrides``; validated.

    ``${NAME}`` expands from the environment in the file and in ``overrides`` (:func:`expand_variables`); relative
    paths in the file are relative to the file's folder, those in ``overrides`` to the working directory."""
    pkg = resources.files("culturecart.study")
    tree = _read(pkg.joinpath("defaults.yaml").read_text("utf-8"), "defaults.yaml")
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; valid: {list(PRESETS)}")
        tree = _merge(tree, _read(pkg.joinpath("presets").joinpath(f"{preset}.yaml").read_text("utf-8"), preset))
    if path is not None:
        text = read_text_file(path, "config file")
        if not text.strip():
            raise ConfigError(f"config file {path} is empty: it sets nothing (at least data.path, data.markets or "
                              "data.preset)")
        own = expand_variables(_read(text, str(path)), f"config file {path}")
        tree = _merge(tree, resolve_paths(own, StudyConfig, Path(path).resolve().parent, FREE_FORM_PATHS))
    for assignment in overrides or []:
        _set_dotted(tree, assignment)
    try:
        cfg = StudyConfig.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_explain(err)) from None
    given = [k for k in ("preset", "path", "markets") if getattr(cfg.data, k) is not None]
    if len(given) != 1:
        raise ConfigError("data: set exactly one of data.preset (twin), data.path (a canonical dataset folder) or "
                          f"data.markets (a markets folder); got {given or 'none'}")
    return cfg
