import pytest

from culturecart.study.config import ConfigError, load_config


def test_layers_apply_in_order(tmp_path):
    assert load_config(preset="twin").rq1.n_boot == 150  # preset over the defaults' 200
    user = tmp_path / "study.yaml"
    user.write_text("rq1:\n  n_boot: 77\nrq5:\n  seeds: 4\n", encoding="utf-8")
    cfg = load_config(user, preset="twin", overrides=["rq5.seeds=2", "rq3.scopes=[global, local]"])
    assert cfg.rq1.n_boot == 77 and cfg.rq5.seeds == 2 and cfg.rq3.scopes == ["global", "local"]
    assert cfg.data.simulate["n_users"] == 2000  # untouched preset values survive the merge


def test_unknown_key_is_named_with_valid_keys():
    with pytest.raises(ConfigError, match=r"rq5\.seedz: unknown setting; valid keys here: \[.*'seeds'"):
        load_config(preset="twin", overrides=["rq5.seedz=3"])


def test_bad_values_name_their_key():
    with pytest.raises(ConfigError, match=r"rq1\.split\.by"):
        load_config(preset="twin", overrides=["rq1.split.by=country"])
    with pytest.raises(ConfigError, match=r"rq1\.models.*unknown model 'gpt'"):
        load_config(preset="twin", overrides=["rq1.models=[gpt]"])
    with pytest.raises(ConfigError, match="valid: \\['twin'"):
        load_config(preset="planet")
    with pytest.raises(ConfigError, match="key.subkey=value"):
        load_config(preset="twin", overrides=["rq5.seeds"])


def test_model_options_are_checked_when_the_config_loads():
    # Before: a wrong option ended the run with an internal error when a unit first built the model, and the
    # options of a model the run never fits were never looked at.
    with pytest.raises(ConfigError, match=r"rq1\.model_options: options of model lightgbm: bogus: unknown option "
                                          r"\(valid: colsample_bytree, "):
        load_config(preset="twin", overrides=["rq1.model_options.lightgbm.bogus=1"])
    with pytest.raises(ConfigError, match=r"options of model transformer: fast_dropout: Input should be a valid "
                                          r"boolean"):
        load_config(preset="twin-small", overrides=["rq1.model_options.transformer.fast_dropout=maybe"])
    with pytest.raises(ConfigError, match=r"unknown model 'nosuch'"):
        load_config(preset="twin", overrides=["rq1.model_options.nosuch.epochs=1"])
    with pytest.raises(ConfigError, match=r"culture: options of model lightgbm: epochz: unknown option"):
        load_config(preset="twin", overrides=["culture.model_options.epochz=1"])
    ok = load_config(preset="twin", overrides=["rq1.model_options.transformer.fast_dropout=true"])
    assert ok.rq1.model_options["transformer"] == {"epochs": 8, "fast_dropout": True}


def test_a_config_needs_data(tmp_path):
    with pytest.raises(ConfigError, match="data.preset"):
        load_config()
    bad = tmp_path / "bad.yaml"
    bad.write_text("rq1: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_paths_in_a_config_file_are_relative_to_its_folder_and_set_values_to_the_working_directory(
        tmp_path, monkeypatch):
    from culturecart.study.config import load_config

    folder = tmp_path / "project" / "configs"
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text("data: {path: ../data/mine}\nculture: {hofstede_path: scores.csv}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(folder / "study.yaml")
    assert cfg.data.path == str(tmp_path / "project" / "data" / "mine")
    assert cfg.culture.hofstede_path == str(folder / "scores.csv")
    assert load_config(folder / "study.yaml", overrides=["data.path=here"]).data.path == "here"


def test_environment_variables_expand_in_files_and_overrides(tmp_path, monkeypatch):
    import pytest

    from culturecart.errors import ConfigError
    from culturecart.paths import data_root
    from culturecart.study.config import load_config

    monkeypatch.setenv("MY_DATA", str(tmp_path / "d"))
    (tmp_path / "s.yaml").write_text("data:\n  path: ${MY_DATA}/retail\n")  # in {flow: style}, quote it
    assert load_config(tmp_path / "s.yaml").data.path == str(tmp_path / "d" / "retail")
    cfg = load_config(preset="twin", overrides=["culture.hofstede_path=${MY_DATA}/h.csv"])
    assert cfg.culture.hofstede_path == str(tmp_path / "d" / "h.csv")
    monkeypatch.delenv("CULTURECART_DATA", raising=False)
    cfg = load_config(preset="twin", overrides=["culture.hofstede_path=${CULTURECART_DATA}/h.csv"])
    assert cfg.culture.hofstede_path == f"{data_root()}/h.csv"  # the documented default of the data folder
    (tmp_path / "bad.yaml").write_text("data: {path: \"${NOT_SET_ANYWHERE}/x\"}\n")
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set"):
        load_config(tmp_path / "bad.yaml")


def test_the_example_configs_load_from_any_folder(tmp_path, monkeypatch):
    from pathlib import Path

    from culturecart.study.config import load_config

    examples = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.chdir(tmp_path)
    for name in ("online_retail.yaml", "xmarket.yaml"):
        cfg = load_config(examples / name)
        for value in (cfg.data.path, cfg.data.markets, cfg.culture.hofstede_path):
            assert value is None or Path(value).is_absolute(), (name, value)
