"""The report in a real browser: headless Chromium via Selenium and Debian's chromedriver, at two widths."""

from __future__ import annotations

import shutil

import pytest

from culturecart.report.findings import STRENGTHS
from culturecart.report.page import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000"]
WIDTHS = (1024, 1400)
BROKEN_CELLS = ("return Array.from(document.querySelectorAll('td, li, p')).map(e => e.innerText)"
                ".filter(t => /\\b(inf|nan|NaN|None)\\b/.test(t) || t.includes(\"{'\"))")


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


def _settled_widths(browser) -> tuple[int, int]:
    """The viewport's and the page's widths read together, once two reads 0.2 s apart agree: on a loaded machine
    the resize lands after ``set_window_size`` returns, and separate reads could mix the old and the new layout."""
    import time

    read = "return [window.innerWidth, document.documentElement.scrollWidth]"
    last = browser.execute_script(read)
    for _ in range(25):
        time.sleep(0.2)
        now = browser.execute_script(read)
        if now == last:
            break
        last = now
    return last[0], last[1]


def _check_page(browser, report, min_images: int) -> None:
    """What every report must do at each width: no horizontal scroll, images loaded, findings first, no broken
    numbers, nothing fetched from outside, no console errors."""
    browser.get(report.resolve().as_uri())
    for width in WIDTHS:
        browser.set_window_size(width, 1000)
        inner, scroll = _settled_widths(browser)
        assert scroll <= inner, f"horizontal overflow at {width}px: {scroll} > {inner}"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    assert browser.execute_script("return document.images.length") >= min_images and broken == 0
    first = browser.execute_script("return document.querySelector('section').id")
    assert first == "findings"
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#findings .strength')).map(e => e.innerText.trim())")
    assert 1 <= len(labels) <= 6 and set(labels) <= set(STRENGTHS)
    assert browser.execute_script(BROKEN_CELLS) == []
    external = browser.execute_script(
        "return Array.from(document.querySelectorAll('[src],[href]')).map(e => e.getAttribute('src') || "
        "e.getAttribute('href')).filter(u => /^(https?:)?\\/\\//.test(u))")
    assert external == [], "the report must work offline"
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    ids = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert [s for s in SECTIONS if s not in ids] == []


@pytest.mark.slow
def test_report_reads_at_laptop_widths_offline(small_study, browser, tmp_path):
    _check_page(browser, small_study.out / "report.html", min_images=6)
    text = browser.find_element("id", "findings").text
    assert "RQ1" in text and "AUC" in text and "RQ5" in text
    browser.set_window_size(1024, 2000)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_markets_report_leads_with_its_ranking_findings(market_study, browser):
    _check_page(browser, market_study.out / "report.html", min_images=3)
    ids = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert ids[:3] == ["findings", "rq3", "rq5"] and "rq1" not in ids and ids[-1] == "cannot"
    assert "nDCG@10" in browser.find_element("id", "findings").text
    assert "cannot" in browser.find_element("id", "cannot").text.lower()
    rq5 = browser.find_element("id", "rq5").text
    assert "Mantel" in rq5 and "none of its own ratings" in rq5
