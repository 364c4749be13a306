"""Learn: the ReLU low-rank idea on small examples, and the three formulations."""
import numpy as np
import pandas as pd
import streamlit as st

import nmdcore
from nmdcore import synthetic
from ui import controls, figures, layout
from ui.state import persistent

layout.page("Learn", "Why a sparse matrix of full rank can be max(0, Θ) with Θ of low rank.")
seed = layout.seed()

# ---------------------------------------------------------------- 0. notation
with st.container(border=True):
    st.markdown("**Notation used on every page**")
    st.markdown(
        r"""
| symbol | meaning |
|---|---|
| $X$ | the data: an $m\times n$ matrix, nonnegative and usually sparse (images are its columns) |
| $r$ | the rank asked for |
| $\Theta$ | the rank-$r$ matrix the solvers look for, with $\max(0, \Theta) \approx X$; often written $\Theta = WH$ with $W$ of size $m\times r$ and $H$ of size $r\times n$ ($WW^\top$ for symmetric data) |
| $\Omega$ | the positions of the positive entries of $X$ |
| $Z$ | the latent matrix of the solvers: equal to $X$ on $\Omega$ and $\le 0$ elsewhere, so that $\max(0, Z) = X$ |
| ReLU error | $\lVert X - \max(0, \Theta)\rVert_F \,/\, \lVert X\rVert_F$: what every page reports, whatever the solver minimises |
| TSVD | the truncated SVD: the best rank-$r$ $\Theta$ for $\lVert X - \Theta\rVert_F$, the baseline to beat |
"""
    )


# ---------------------------------------------------------------- 1. the 5×5 example
st.header("1 · A 5×5 matrix of rank 5 that is max(0, Θ) with rank Θ = 2")
st.markdown("Example 1 of Wang, Cui & Han (2024). Edit the two factors of Θ = W·H below: "
            "X = max(0, Θ) follows, and so do the ranks.")
M0, theta0 = synthetic.relu_example_5x5()
W0 = np.array([[-2.0, -1.0], [2.0, -1.0], [2.0, 1.0], [1.0, -2.0], [-2.0, 1.0]])
H0 = np.linalg.lstsq(W0, theta0, rcond=None)[0]
c1, c2 = st.columns([1, 2])
with c1:
    W = st.data_editor(pd.DataFrame(W0, columns=["w₁", "w₂"]), key="learn_A", width="stretch")
    H = st.data_editor(pd.DataFrame(np.round(H0, 6), index=["h₁", "h₂"]), key="learn_B", width="stretch")
W = np.nan_to_num(W.to_numpy(dtype=float))
H = np.nan_to_num(H.to_numpy(dtype=float))
theta = W @ H
X5 = np.maximum(theta, 0)
with c2:
    top = float(np.abs(theta).max()) or 1.0
    st.plotly_chart(figures.heatmaps({"Θ = W·H": theta, "X = max(0, Θ)": X5}, zmin=-top, zmax=top,
                                     colorscale="RdBu_r"), key="learn_5x5", width="stretch")
    k1, k2, k3 = st.columns(3)
    k1.metric("rank Θ", int(np.linalg.matrix_rank(theta)))
    k2.metric("rank X", int(np.linalg.matrix_rank(X5)))
    k3.metric("zeros of X", f"{int((X5 == 0).sum())} of 25")
    s = np.linalg.svd(X5, compute_uv=False)
    st.caption("Red is positive, blue negative, white zero. Singular values of X: " + ", ".join(f"{v:.3g}" for v in s)
               + ". A truncated SVD of X at rank 2 keeps only the first two; max(0, Θ) reproduces X exactly.")

# ---------------------------------------------------------------- 2. TSVD vs ReLU-NMD
st.header("2 · TSVD versus ReLU-NMD as the rank moves")
st.markdown("A small sparse matrix X = max(0, W·H) with W·H of rank 4 (30×24, seeded by the sidebar seed). "
            "TSVD gives the best rank-r Θ for ‖X − Θ‖; ReLU-NMD looks for the rank-r Θ with max(0, Θ) ≈ X.")
X = synthetic.relu_lowrank(30, 24, 4, random_state=seed)
r = int(persistent(st.slider, "learn_rank", 2, "Rank r", min_value=1, max_value=10))
nmd_solvers = controls.solvers_for("learn")


@st.cache_data(show_spinner=False, max_entries=64)
def solve_small(seed: int, rank: int, solver: str):
    """TSVD and ReLU-NMD of the Learn page's small matrix (deterministic, so cacheable)."""
    Xs = synthetic.relu_lowrank(30, 24, 4, random_state=seed)
    tsvd = nmdcore.decompose(Xs, rank, solver="tsvd")
    out = {"tsvd": tsvd.theta, "tsvd_error": tsvd.relu_error}
    if solver:
        res = nmdcore.decompose(Xs, rank, solver=solver, max_iter=500, random_state=seed)
        out.update(nmd=res.theta, nmd_error=res.relu_error)
    return out


preferred = next((k for k in ("ebcd", "nmd_3b", "bcd", "a_nmd", "naive", "cd") if k in nmd_solvers), None)
sol = solve_small(seed, r, preferred)
panels = {"X": X, f"max(0, TSVD), r = {r}": np.maximum(sol["tsvd"], 0)}
if preferred:
    panels[f"max(0, Θ) by {nmdcore.SOLVERS[preferred].label}, r = {r}"] = np.maximum(sol["nmd"], 0)
st.plotly_chart(figures.heatmaps(panels, zmax=float(X.max())), key="learn_compare", width="stretch")
st.caption("White is zero. At r = 4, the rank X was built with, ReLU-NMD reproduces X while TSVD still blurs "
           "its zeros.")
k1, k2, k3, k4 = st.columns(4)
k1.metric("rank of X (30×24)", int(np.linalg.matrix_rank(X)))
k2.metric("rank of Θ", r)
k3.metric("TSVD: ReLU error", f"{sol['tsvd_error']:.3f}",
          help=r"$\lVert X - \max(0, \Theta)\rVert_F / \lVert X\rVert_F$")
if preferred:
    k4.metric("ReLU-NMD: ReLU error", f"{sol['nmd_error']:.3f}",
              delta=f"{sol['nmd_error'] - sol['tsvd_error']:+.3f}", delta_color="inverse")

# ---------------------------------------------------------------- 3. formulations
st.header("3 · Three ways to write the problem")
st.markdown("Let Ω be the positions of the positive entries of X. All three look for a rank-r Θ.")
formulations = (
    ("LS-RMD", "Fit max(0, Θ) to X directly in least squares. Natural, but nonsmooth and nonconvex.",
     r"\min_{\operatorname{rank}\Theta\le r}\ \|X-\max(0,\Theta)\|_F^2"),
    ("Latent-RMD", "Introduce a latent Z that equals X on Ω and is ≤ 0 elsewhere, and fit Θ to Z. "
                   "Each step is a projection or a truncated SVD (Saul (2022)).",
     r"\min_{Z,\ \operatorname{rank}\Theta\le r}\ \|Z-\Theta\|_F^2\quad"
     r"\text{s.t. } Z_\Omega=X_\Omega,\ Z_{\Omega^c}\le 0"),
    ("3B-RMD (three blocks)", "Write Θ = W·H: no SVD at all, and each block (Z, W, H) has a closed-form "
                              "update, which is what makes BCD, eBCD, 3B-NMD and NMD-TM fast.",
     r"\min_{Z,\,W\in\mathbb{R}^{m\times r},\,H\in\mathbb{R}^{r\times n}}\ \|Z-WH\|_F^2\quad"
     r"\text{s.t. } \max(0,Z)=X"),
)
for name, words, formula in formulations:
    words_col, formula_col = st.columns([2, 3], vertical_alignment="center")
    words_col.markdown(f"**{name}** — {words}")
    formula_col.latex(formula)
st.caption("The last two can have different minimisers than the first (Gillis, Porcelli & Seraghiti (2025)); "
           r"the app always reports the ReLU error $\lVert X - \max(0, \Theta)\rVert_F / \lVert X\rVert_F$ next to "
           "what each solver minimises.")
