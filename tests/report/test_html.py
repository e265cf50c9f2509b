from culturecart.report.html import SECTIONS


def test_report_is_self_contained_and_answers_each_question(small_study):
    html = (small_study.out / "report.html").read_text("utf-8")
    for section in SECTIONS:
        assert f"id='{section}'" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") >= 6
    for question in ("RQ1.", "RQ2.", "RQ3.", "RQ4.", "RQ5."):
        assert question in html
    assert "Minkov" in html
    assert "id='matching'" in html and "mean F1" in html  # the UAI caveat is always shown
