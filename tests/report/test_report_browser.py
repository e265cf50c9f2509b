"""The report in a real browser: headless Chromium via Selenium and Debian's chromedriver."""

from __future__ import annotations

import shutil

import pytest

from culturecart.report.page import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000"]


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and DRIVER):
        pytest.skip("chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver; "
                    ".ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_report_renders_offline_without_console_errors(small_study, browser, tmp_path):
    report = small_study.out / "report.html"
    browser.get(report.resolve().as_uri())
    ids = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    for section in SECTIONS:
        assert section in ids, f"section {section} missing"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    n_images = browser.execute_script("return document.images.length")
    assert n_images >= 6 and broken == 0
    external = browser.execute_script(
        "return Array.from(document.querySelectorAll('[src],[href]')).map(e => e.getAttribute('src') || "
        "e.getAttribute('href')).filter(u => /^(https?:)?\\/\\//.test(u))")
    assert external == [], "the report must work offline"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    text = browser.find_element("id", "summary").text
    assert "RQ1" in text and "AUC" in text and "RQ5" in text


@pytest.mark.slow
def test_markets_report_renders_its_sections_offline(market_study, browser):
    browser.get((market_study.out / "report.html").resolve().as_uri())
    ids = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert [s for s in SECTIONS if s not in ids] == []
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    assert browser.execute_script("return document.images.length") >= 3 and broken == 0
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    for section in ("rq1", "rq2", "rq4"):
        assert "cannot answer" in browser.find_element("id", section).text
    rq5 = browser.find_element("id", "rq5").text
    assert "Mantel" in rq5 and "zero-shot" in rq5
    assert "nDCG@10" in browser.find_element("id", "rq3").text
