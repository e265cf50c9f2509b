"""Item 8: convert on damaged sources, a bad --out, empty results and non-numeric source columns."""

from __future__ import annotations

import gzip

import pytest

from culturecart.data.adapters.shoppers import BEHAVIOUR, CONTEXT
from tests.helpers import invoke

HEADER = ",".join(BEHAVIOUR + list(CONTEXT) + ["Region", "VisitorType", "Revenue"])
ROW = "0,0,0,0,{pr},10.5,0.02,0.04,0,0,Feb,FALSE,1,1,1,1,Returning_Visitor,{rev}"


def _shoppers(rows: list[str]) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def _valid_rows() -> list[str]:
    return [ROW.format(pr=i + 1, rev="TRUE" if i % 3 == 0 else "FALSE") for i in range(12)]


def test_a_valid_source_converts(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text(_shoppers(_valid_rows()))
    invoke("convert", "shoppers", src, "--out", tmp_path / "ds", exit_code=0)


CASES = {
    "truncated gzip": (lambda p: p.with_suffix(".csv.gz").write_bytes(
        gzip.compress(_shoppers(_valid_rows() * 400).encode())[:300]), ".csv.gz", ("truncated",)),
    "not gzip": (lambda p: p.with_suffix(".csv.gz").write_text(_shoppers(_valid_rows())), ".csv.gz",
                 ("not a gzip file",)),
    "0-byte file": (lambda p: p.with_suffix(".csv").write_bytes(b""), ".csv", ("empty",)),
    "header only": (lambda p: p.with_suffix(".csv").write_text(HEADER + "\n"), ".csv", ("no data rows",)),
    "non-numeric count": (lambda p: p.with_suffix(".csv").write_text(_shoppers(
        _valid_rows()[:5] + [ROW.format(pr="twelve", rev="FALSE")])), ".csv", ("'ProductRelated'", "[5]", "twelve")),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_damaged_sources_are_named(tmp_path, case):
    write, suffix, names = CASES[case]
    write(tmp_path / "src")
    src = (tmp_path / "src").with_suffix(suffix)
    invoke("convert", "shoppers", src, "--out", tmp_path / "ds", exit_code=1, names=(src.name, *names))
    assert not (tmp_path / "ds").exists()


def test_out_that_is_a_file_and_limit_zero_are_usage_errors(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text(_shoppers(_valid_rows()))
    target = tmp_path / "taken"
    target.write_text("mine")
    invoke("convert", "shoppers", src, "--out", target, exit_code=2, names=("is a file",))
    assert target.read_text() == "mine"
    invoke("convert", "shoppers", src, "--out", tmp_path / "ds", "--limit", "0", exit_code=2, names=("--limit",))
    assert not (tmp_path / "ds").exists()
