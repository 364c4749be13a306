"""Every page of the app loads under AppTest with no exception; the Learn page's stories."""
from __future__ import annotations

import pytest

from ui.layout import PAGES

from tests.helpers import REPO, open_page


@pytest.mark.parametrize("path", [p for p, _, _ in PAGES])
def test_page_loads_without_exception(path):
    assert (REPO / path).exists(), f"{path} is listed in ui.layout.PAGES but missing"
    at = open_page(path)
    assert not at.exception, at.exception
    assert at.title, "every page has a title"


def test_seed_persists_across_pages():
    at = open_page("pages/1_Learn.py")
    at.sidebar.number_input(key="seed").set_value(7).run()
    at.switch_page("pages/2_Explore.py").run()
    assert at.sidebar.number_input(key="seed").value == 7
    at.sidebar.selectbox(key="dataset").set_value("digits").run()
    at.switch_page("pages/1_Learn.py").run()
    at.switch_page("pages/3_Compare.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "digits"
    assert at.sidebar.number_input(key="seed").value == 7


def test_learn_example_is_rank_5_from_rank_2():
    at = open_page("pages/1_Learn.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["rank Θ"] == "2" and metrics["rank X"] == "5"


def test_learn_rank_slider_moves_errors():
    at = open_page("pages/1_Learn.py")
    before = {m.label: m.value for m in at.metric}
    at.slider(key="learn_rank").set_value(4).run()
    assert not at.exception, at.exception
    after = {m.label: m.value for m in at.metric}
    assert after["rank of Θ"] == "4"
    assert float(after["TSVD: ReLU error"]) < float(before["TSVD: ReLU error"])
    # the planted rank is 4: the ReLU-NMD fits X almost exactly there, far better than TSVD
    assert float(after["ReLU-NMD: ReLU error"]) < 0.05 < float(after["TSVD: ReLU error"])


