"""Drive the built index.html in real headless Chromium: table, sorting, detail view, filters.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``);
skips with that reason when they are missing.  Screenshots go to the test's tmp folder and, if
``FACIES_BENCH_SCREENSHOT_DIR`` is set, there too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture()
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip("headless Chromium not installed: apt-get install -y chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="facies-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _save(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    extra = os.environ.get("FACIES_BENCH_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    return path


def _models(driver, table_css):
    rows = driver.find_elements("css selector", f"{table_css} tbody tr")
    return [r.find_element("css selector", "button.model-link").text for r in rows if r.is_displayed()]


def test_page_in_headless_chromium(built_site, board_results, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    from facies_bench.leaderboard import load_entries

    driver = browser
    driver.get((built_site / "index.html").resolve().as_uri())
    assert "Glacier facies leaderboard" in driver.title

    # Every entry is rendered, in rank order, on its board.
    entry_ids = {e.entry_id for e in load_entries(board_results)}
    rows = driver.find_elements("css selector", "table.lb tbody tr")
    assert {r.get_attribute("data-entry") for r in rows} == entry_ids and len(rows) == 4
    raw = "#table-glacier_facies_tiny--tiny_0--raw"
    assert _models(driver, raw) == ["alpha_net", "beta_net", "gamma_hgb"]
    ranks = [td.text for td in driver.find_elements("css selector", f"{raw} td.rank")]
    assert ranks == ["1=", "1=", "3"]
    _save(driver, tmp_path, "leaderboard_table.png")

    # Sorting by a column reorders the rows: accuracy (best first), then ascending on a second click.
    header = driver.find_element("css selector", f"{raw} th[data-key=accuracy]")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert _models(driver, raw) == ["alpha_net", "beta_net", "gamma_hgb"]
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert _models(driver, raw) == ["gamma_hgb", "beta_net", "alpha_net"]
    seeds = driver.find_element("css selector", f"{raw} th[data-key=seeds]")
    seeds.click()
    assert _models(driver, raw)[0] == "beta_net"
    assert header.get_attribute("aria-sort") is None

    # A detail view opens with the breakdown tables and the plots, and closes again.
    driver.find_element("xpath", f"//table[@id='{raw[1:]}']//button[text()='beta_net']").click()
    detail = driver.find_element("css selector", ".detail.open")
    assert detail.is_displayed()
    text = detail.text
    assert "beta_net" in text and "Per class" in text and "Per region" in text and "Per sensor" in text
    assert "refrozen-like" in text and "0, 1" in text  # both seeds listed
    images = detail.find_elements("css selector", "img")
    assert len(images) == 2
    assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 100", img) for img in images)
    _save(driver, tmp_path, "leaderboard_detail.png")
    detail.find_element("css selector", "button.close").click()
    assert not driver.find_elements("css selector", ".detail.open")
    assert not driver.find_element("id", "overlay").is_displayed()

    # Filters: feature set hides rows, label variant hides boards.
    Select(driver.find_element("id", "filter-fs")).select_by_value("3")
    assert _models(driver, raw) == ["gamma_hgb"]
    Select(driver.find_element("id", "filter-fs")).select_by_value("all")
    Select(driver.find_element("id", "filter-variant")).select_by_value("cl_test")
    boards = driver.find_elements("css selector", "section.board")
    visible = [b.get_attribute("data-variant") for b in boards if b.is_displayed()]
    assert visible == ["cl_test"]
    assert _models(driver, "#table-glacier_facies_tiny--tiny_0--cl_test") == ["delta_cnn"]
    Select(driver.find_element("id", "filter-variant")).select_by_value("all")
    assert len(_models(driver, "table.lb")) == 4

    # Opening a detail by URL fragment works (shareable links).
    driver.get((built_site / "index.html").resolve().as_uri() + "#detail-glacier_facies_tiny--tiny_0--cl_test-"
               + next(e for e in load_entries(board_results) if e.model_name == "delta_cnn").entry_id)
    assert driver.find_element("css selector", ".detail.open").text.startswith("Close")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []
