"""ReLU-NMD Explorer — entry point and home page (``streamlit run app.py``).

The other pages live in ``pages/`` (Streamlit's multipage convention); every page
draws the same menu and sidebar through :func:`ui.layout.page`.
"""
import streamlit as st

import nmdcore
from ui import layout

layout.page("ReLU-NMD Explorer",
            "Nonlinear matrix decomposition with the ReLU function: find a rank-r Θ with max(0, Θ) ≈ X.")
layout.seed()

st.markdown(
    """
A sparse nonnegative matrix X is often of **full rank**, yet it can equal max(0, Θ) for a Θ of
**very low rank**: the zeros of X only ask Θ to be ≤ 0 there, which leaves room that a plain
truncated SVD cannot use. The solvers of `nmdcore` search for such a Θ.
"""
)
st.page_link("pages/2_Explore.py", label="Start exploring — MNIST 5k digits, eBCD-NMD, rank 20 (offline)",
             icon=":material/play_circle:")
cards = {
    "pages/1_Learn.py": "The idea on a 5×5 example, TSVD versus ReLU-NMD as the rank moves, the three models.",
    "pages/2_Explore.py": "Pick data and a solver, watch the error fall live, look at the reconstructions.",
    "pages/3_Compare.py": "Several solvers on the same data, start and time budget; random-start bands.",
    "pages/4_Compress.py": "Compress the NMF basis of a face set (Wang, Cui & Han 2024, §III-C).",
    "pages/5_Symmetric.py": "Symmetric ReLU-NMD of similarity graphs (Wang et al. 2025).",
    "pages/6_Factorization_dynamics.py": "Gradient descent on ½‖UVᵀ − Σ‖² from a small random start (Ye & Du 2021).",
}
labels = {path: (label, icon) for path, label, icon in layout.PAGES}
cols = st.columns(3)
for i, (path, text) in enumerate((p, t) for p, t in cards.items() if (layout.ROOT / p).exists()):
    label, icon = labels[path]
    with cols[i % 3].container(border=True):
        st.page_link(path, label=label, icon=icon)
        st.caption(text)

st.caption(f"nmdcore {nmdcore.__version__} · solvers registered: "
           + ", ".join(spec.label for spec in nmdcore.SOLVERS.values()))
