"""AppTest story of the Home page's three-step tour."""
from __future__ import annotations

from tests.helpers import open_page


def test_tour_opens_explore_on_mnist_with_ebcd_at_rank_20_even_after_a_small_example():
    at = open_page("pages/2_Explore.py")
    # a 5×5 example first clamps the rank to 4 ...
    at.sidebar.selectbox(key="dataset").set_value("example_5x5").run()
    assert at.slider(key="rank").value == 4
    at.switch_page("app.py").run()
    assert not at.exception, at.exception
    # ... and the tour's last step still opens the real demo as announced
    at.button(key="tour_explore").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "mnist5k"
    assert at.selectbox(key="explore_solver").value == "ebcd"
    assert at.slider(key="rank").value == 20


def test_home_links_every_step_of_the_tour_and_every_page():
    at = open_page("app.py")
    assert not at.exception, at.exception
    assert [h.value for h in at.subheader] == ["A tour in three steps", "Pages"]
