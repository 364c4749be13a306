"""ReLU-NMD Explorer — entry point and home page (``streamlit run app.py``).

The other pages live in ``pages/`` (Streamlit's multipage convention); every page
draws the same menu and sidebar through :func:`ui.layout.page`.
"""
import streamlit as st

import nmdcore
from ui import layout
from ui.state import set_kept

layout.page("ReLU-NMD Explorer",
            "Nonlinear matrix decomposition with the ReLU function: find a rank-r Θ with max(0, Θ) ≈ X.")
layout.seed()

st.markdown(
    """
A sparse nonnegative matrix X is often of **full rank**, yet it can equal max(0, Θ) for a Θ of
**very low rank**: the zeros of X only ask Θ to be ≤ 0 there, which leaves room that a plain
truncated SVD (TSVD) cannot use. The solvers of `nmdcore` search for such a Θ.
"""
)

st.subheader("A tour in three steps")
TOUR_DATASET, TOUR_SOLVER, TOUR_RANK = "mnist5k", "ebcd", 20


def start_tour_run() -> None:
    """Set Explore's dataset, solver and rank for the tour's last step (before its widgets exist)."""
    for key, value in (("dataset", TOUR_DATASET), ("explore_solver", TOUR_SOLVER), ("rank", TOUR_RANK)):
        set_kept(key, value)
        st.session_state.pop(key, None)


steps = st.columns(3)
with steps[0].container(border=True, height="stretch"):
    st.markdown("**1 · A 5×5 matrix of rank 5 that is max(0, Θ) with Θ of rank 2.** "
                "Its zeros leave Θ free to be negative there. Edit the factors W and H and watch the ranks.")
    st.page_link("pages/1_Learn.py", label="Learn, section 1", icon=":material/school:")
with steps[1].container(border=True, height="stretch"):
    st.markdown("**2 · TSVD against ReLU-NMD as the rank moves.** Further down Learn, slide r on a small sparse "
                "matrix: at r = 4 ReLU-NMD rebuilds it exactly while TSVD still misses its zeros.")
    st.page_link("pages/1_Learn.py", label="Learn, section 2", icon=":material/school:")
with steps[2].container(border=True, height="stretch"):
    st.markdown(f"**3 · Real data: 5000 handwritten digits, 81 % zeros.** At r = {TOUR_RANK}, eBCD-NMD ends well "
                "below TSVD's error, and the reconstructions show sharper strokes. Press **Run** on Explore.")
    if st.button(f"Explore MNIST with eBCD-NMD at r = {TOUR_RANK}", icon=":material/play_circle:",
                 key="tour_explore", on_click=start_tour_run):
        st.switch_page("pages/2_Explore.py")

st.subheader("Pages")
cards = {
    "pages/1_Learn.py": "The idea on a 5×5 example, TSVD versus ReLU-NMD as the rank moves, the three models, "
                        "and the notation every page uses.",
    "pages/2_Explore.py": "Pick data and a solver, watch the error fall live, look at the reconstructions.",
    "pages/3_Compare.py": "Several solvers on the same data, start and time budget; random-start bands.",
    "pages/4_Compress.py": "Store the sparse NMF basis of the ORL faces at rank r: TSVD against ReLU-NMD "
                           "(Wang, Cui & Han (2024)).",
    "pages/5_Symmetric.py": "Symmetric ReLU-NMD of similarity graphs (Wang (2025)).",
    "pages/6_Factorization_dynamics.py": "Gradient descent on ½‖W H − X‖² from a small random start "
                                         "(Ye & Du (2021)).",
}
labels = {path: (label, icon) for path, label, icon in layout.PAGES}
cols = st.columns(3)
for i, (path, text) in enumerate((p, t) for p, t in cards.items() if (layout.ROOT / p).exists()):
    label, icon = labels[path]
    with cols[i % 3].container(border=True):
        st.page_link(path, label=label, icon=icon)
        st.caption(text)

st.caption(f"nmdcore {nmdcore.__version__} · solvers registered: "
           + ", ".join(spec.label for spec in nmdcore.SOLVERS.values())
           + " · references: docs/references.md")
