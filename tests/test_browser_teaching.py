"""Real-browser test of the teaching path: Home's tour opens the MNIST demo, and the downloads work.

Uses the server, browser and helpers of ``test_browser.py`` (skips, or fails under
REQUIRE_BROWSER=1, in the same way).
"""
from __future__ import annotations

import io

import pytest

from test_browser import (RUN_TIMEOUT_MS, app_url, browser, no_exception, page, shot,  # noqa: F401 (fixtures)
                          wait_for_app, widget)
from playwright.sync_api import expect  # noqa: E402  (after test_browser's skip)

pytestmark = pytest.mark.browser


def download(page, key: str) -> bytes:
    """Click the download button with ``key`` and return the file the browser received."""
    with page.expect_download() as info:
        widget(page, key).get_by_role("button").click()
    with open(info.value.path(), "rb") as f:
        return f.read()


def test_tour_opens_the_mnist_demo_and_every_download_is_a_valid_file(page, app_url):  # noqa: F811
    from PIL import Image

    page.goto(app_url)
    wait_for_app(page)
    widget(page, "tour_explore").get_by_role("button").click()
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="Explore", exact=True)).to_be_visible()
    expect(main).to_contain_text("MNIST 5k")
    expect(widget(page, "rank").get_by_test_id("stSliderThumbValue")).to_have_text("20")
    expect(widget(page, "explore_solver").get_by_role("combobox")).to_have_value("eBCD-NMD — 3B-RMD")
    # the picker says what the solver does and cites its paper
    expect(main).to_contain_text("The recommended default for most data.")
    expect(main).to_contain_text("Gillis, Porcelli & Seraghiti (2025)")
    widget(page, "explore_max_iter").locator("input").fill("15")
    widget(page, "run").get_by_role("button").click()
    wait_for_app(page, timeout_ms=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("15 iterations in")
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Reached the iteration limit")
    no_exception(page)
    png = download(page, "dl-curve-png")
    Image.open(io.BytesIO(png)).verify()
    pdf = download(page, "dl-curve-pdf")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    grid = download(page, "dl-images")
    Image.open(io.BytesIO(grid)).verify()
    csv = download(page, "dl-csv").decode()
    assert csv.splitlines()[0].startswith("iteration,") and len(csv.splitlines()) == 17
    shot(page, "explore_tour")
