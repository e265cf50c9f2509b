"""Item 12: config and option files: encodings, YAML syntax, paths that are folders or files."""

from __future__ import annotations

from tests.helpers import invoke


def test_non_utf8_yaml_names_file_and_offset(tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_bytes("name: étude\n".encode("latin-1"))
    invoke("study", cfg, "--out", tmp_path / "out", exit_code=2, names=("study.yaml", "not UTF-8", "byte offset 6"))
    assert not (tmp_path / "out").exists()


def test_broken_yaml_and_override(tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("data:\n  preset: twin\n rq1: [\n")
    invoke("study", cfg, "--out", tmp_path / "out", exit_code=2, names=("study.yaml", "not valid YAML", "line"))
    invoke("study", "--preset", "twin-small", "--set", "k=[1,", "--out", tmp_path / "out", exit_code=2,
           names=("k=[1,", "not valid YAML"))
    assert not (tmp_path / "out").exists()


def test_config_path_that_is_a_folder(tmp_path):
    invoke("study", tmp_path, "--out", tmp_path / "out", exit_code=2, names=("is a folder, not a file",))


def test_study_out_that_is_a_file(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    invoke("study", "--preset", "twin-small", "--out", taken, exit_code=2, names=("is a file",))
    assert taken.read_text() == "mine"


def test_simulate_rules_and_hofstede_files(tmp_path):
    base = ["simulate", "--users", "20", "--products", "5", "--countries", "KR,US"]
    out = tmp_path / "sim"
    invoke(*base, "--out", out, "--rules", tmp_path / "none.yaml", exit_code=2, names=("rules file", "does not exist"))
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("features: {}\nintercept: 3\n")
    invoke(*base, "--out", out, "--rules", bad_rules, exit_code=2, names=("rules.yaml", "intercept"))
    invoke(*base, "--out", out, "--hofstede", tmp_path / "none.csv", exit_code=2,
           names=("Hofstede file", "does not exist"))
    bad_scores = tmp_path / "scores.csv"
    bad_scores.write_text("country,pdi\nKorea,60\n")
    invoke(*base, "--out", out, "--hofstede", bad_scores, exit_code=2, names=("scores.csv", "idv"))
    assert not out.exists()


def test_encoders_config_file(tiny_dir, tmp_path):
    enc = tmp_path / "enc.yaml"
    enc.write_text("text: {name: bert}\n")
    invoke("encode", tiny_dir, "--config", enc, "--out", tmp_path / "emb", exit_code=2, names=("enc.yaml", "bert"))
    invoke("encode", tiny_dir, "--config", tmp_path, "--out", tmp_path / "emb", exit_code=2, names=("is a folder",))
