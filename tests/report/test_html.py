from culturecart.report.page import SECTIONS


def test_report_is_self_contained_and_opens_with_its_findings(small_study):
    html = (small_study.out / "report.html").read_text("utf-8")
    for section in (*SECTIONS, "rq1", "rq2", "rq3", "rq4", "rq5", "trust", "matching"):
        assert f"id='{section}'" in html, section
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") >= 6
    assert html.index("id='findings'") < html.index("id='rq1'")  # findings first
    for question in ("<b>RQ1</b>", "<b>RQ2</b>", "<b>RQ3</b>", "<b>RQ4</b>", "<b>RQ5</b>"):
        assert question in html
    assert "Minkov (2018)" in html and "Benjamini &amp; Hochberg (1995)" in html  # short cites, full references
    assert "mean F1" in html and "<details>" in html and "<dt>Wald test</dt>" in html
