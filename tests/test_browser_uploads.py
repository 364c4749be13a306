"""Real-browser tests of hostile uploads: a format the product does not list, and names that are markdown.

Same server, browser and helpers as ``test_browser.py`` (and the same skips).
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from test_browser import app_url, browser, expect, no_exception, page, shot, wait_for_app, widget  # noqa: F401

pytestmark = pytest.mark.browser

#: Upload memory of the server under test, all sessions together: one 64×64 float64 matrix (32 KB) fits, two do not.
UPLOADS_MB = 0.05


@pytest.fixture(scope="module", autouse=True)
def small_upload_budget():
    """Set before the server starts (autouse fixtures come first), which inherits it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NMD_APP_UPLOADS_MB", str(UPLOADS_MB))
        yield

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
       b"newpath 0 0 moveto 8 8 lineto stroke showpage\n%%EOF\n")
REMOTE_IMAGE = "https://example.invalid/pixel.png"


def _choose_upload(page, url: str) -> None:
    page.goto(f"{url}/Explore")
    wait_for_app(page)
    widget(page, "dataset").click()
    page.get_by_role("option", name="Your files (upload)…").click()
    wait_for_app(page)


def test_postscript_named_png_is_refused_with_its_real_format(page, app_url, tmp_path):
    evil = tmp_path / "evil.png"
    evil.write_bytes(EPS)
    _choose_upload(page, app_url)
    widget(page, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(evil)])
    wait_for_app(page)
    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("evil.png: is in the PostScript/EPS format, not one of the image formats read here")
    assert "\n" not in error.inner_text().strip()
    no_exception(page)
    shot(page, "upload_eps_refused")


def test_markdown_in_a_member_name_is_shown_as_text_and_fetches_nothing(page, app_url, tmp_path):
    name = f"![x]({REMOTE_IMAGE}).png"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, EPS)
    archive = tmp_path / "members.zip"
    archive.write_bytes(buf.getvalue())
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    _choose_upload(page, app_url)
    widget(page, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(archive)])
    wait_for_app(page)
    error = page.get_by_test_id("stAlertContentError")
    shown = error.inner_text().replace("\u2060", "")  # the word joiner that keeps it from being a link
    assert f"members.zip/{name}" in " ".join(shown.split())  # the name, character for character
    assert page.locator("img[src*='example.invalid']").count() == 0
    assert page.locator("a[href*='example.invalid']").count() == 0  # not even a link
    assert not [u for u in requested if "example.invalid" in u]
    no_exception(page)
    shot(page, "upload_markdown_name")


def test_negative_entries_are_repaired_with_the_control_on_the_data_chooser(page, app_url, tmp_path):
    matrix = tmp_path / "signed.csv"
    matrix.write_text("1,-2,0,4\n3,4,5,-1\n0,1,2,3\n2,0,-3,1\n")
    _choose_upload(page, app_url)
    widget(page, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(matrix)])
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("3 negative entries; choose a repair")
    widget(page, "upload_repair").get_by_text("clip at zero").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect(page.get_by_test_id("stMain")).to_contain_text("X is 4×4 (matrix)")
    no_exception(page)
    shot(page, "upload_repaired")


def _npy(path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    np.save(path, np.maximum(rng.standard_normal((64, 64)), 0))
    return str(path)


def test_an_ended_session_releases_its_upload_for_the_others(browser, app_url, tmp_path):
    first, second = _npy(tmp_path / "first.npy", 1), _npy(tmp_path / "second.npy", 2)
    holder = browser.new_context(viewport={"width": 1400, "height": 2000})
    other = browser.new_context(viewport={"width": 1400, "height": 2000})
    try:
        page_a, page_b = holder.new_page(), other.new_page()
        _choose_upload(page_a, app_url)
        widget(page_a, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([first])
        wait_for_app(page_a)
        expect(page_a.get_by_test_id("stMain")).to_contain_text("X is 64×64 (matrix)")
        # a second session's upload does not fit beside the first one
        _choose_upload(page_b, app_url)
        widget(page_b, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([second])
        wait_for_app(page_b)
        expect(page_b.get_by_test_id("stAlertContentError")).to_contain_text(f"limit {UPLOADS_MB:g} MB for all sessions")
        shot(page_b, "upload_over_server_budget")
        holder.close()  # the first session ends: Streamlit releases its upload within seconds
        page_b.wait_for_timeout(3000)
        _choose_upload(page_b, app_url)  # a fresh session in the same tab
        widget(page_b, "upload").get_by_test_id("stFileUploaderDropzoneInput").set_input_files([second])
        wait_for_app(page_b)
        expect(page_b.get_by_test_id("stAlertContentError")).to_have_count(0)
        expect(page_b.get_by_test_id("stMain")).to_contain_text("X is 64×64 (matrix)")
        no_exception(page_b)
    finally:
        other.close()
