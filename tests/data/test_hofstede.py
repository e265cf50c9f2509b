"""Hofstede files: the official 6-D format, code mapping, missing values, shipped scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from culturecart.data.hofstede import DIMENSIONS, hofstede_profiles, load_hofstede, shipped_hofstede

OFFICIAL_SNIPPET = """ctr;country;pdi;idv;mas;uai;ltowvs;ivr
ARA;Arab countries;80;38;53;68;23;34
GER;Germany;35;67;66;65;83;40
GRE;Greece;60;35;57;112;45;50
SPA;Spain;57;51;42;86;48;44
ALB;Albania;#NULL!;#NULL!;#NULL!;#NULL!;61;15
"""


def test_official_format_snippet(tmp_path: Path):
    path = tmp_path / "6d.csv"
    path.write_text(OFFICIAL_SNIPPET)
    with pytest.warns(UserWarning, match="Arab countries"):
        table = load_hofstede(path)
    assert list(table.index) == ["DE", "GR", "ES", "AL"]
    assert table.loc["GR", "uai"] == 112  # above 100 is valid, never clipped
    assert np.isnan(table.loc["AL", "pdi"]) and table.loc["AL", "lto"] == 61
    assert table.loc["ES", "source_code"] == "SPA"


def test_real_official_file(shared_data):
    path = shared_data("hofstede") / "6-dimensions-for-website-2015-08-16.csv"
    with pytest.warns(UserWarning):
        table = load_hofstede(path)
    assert len(table) == 100  # 110 rows less 10 regions without an ISO code
    assert table.loc["KR", "lto"] == 100 and table.loc["MY", "pdi"] == 104
    assert table.loc["US", "idv"] == 91 and table.loc["GB", "idv"] == 89
    # 78 rows have the four original dimensions; 9 of them are regions without an ISO code.
    assert table[["pdi", "idv", "mas", "uai"]].notna().sum().min() == 69


def test_shipped_scores_equal_the_published_file(shared_data):
    with pytest.warns(UserWarning):
        official = load_hofstede(shared_data("hofstede") / "6-dimensions-for-website-2015-08-16.csv")
    shipped = shipped_hofstede()
    assert len(shipped) >= 8
    np.testing.assert_array_equal(shipped[list(DIMENSIONS)].to_numpy(),
                                  official.loc[shipped.index, list(DIMENSIONS)].to_numpy())


def test_comma_copy_and_name_based_scrape(shared_data):
    folder = shared_data("hofstede")
    with pytest.warns(UserWarning):
        comma = load_hofstede(folder / "hofstede_6d_official_2015.csv")
    assert comma.loc["JP", "mas"] == 95
    scrape = load_hofstede(folder / "hofstede_insights_scrape_2021.csv")
    assert scrape.loc["KR", "pdi"] == 60 and scrape.loc["US", "idv"] == 91
    assert len(scrape) == 118


def test_profiles_name_missing_countries(tmp_path: Path):
    with pytest.raises(KeyError, match="PL"):
        hofstede_profiles(["DE", "PL"])
    path = tmp_path / "6d.csv"
    path.write_text(OFFICIAL_SNIPPET)
    with pytest.warns(UserWarning), pytest.raises(KeyError, match="incomplete.*AL"):
        hofstede_profiles(["DE", "AL"], path)


def test_rejects_a_file_without_dimensions(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("country,score\nGermany,3\n")
    with pytest.raises(ValueError, match="pdi"):
        load_hofstede(path)
