"""Factorization dynamics: gradient descent on ½‖W H − X‖² from a small random start (Ye & Du 2021)."""
import numpy as np
import streamlit as st

import nmdcore
from ui import controls, figures, layout, results, runs
from ui.state import persistent

layout.page("Factorization dynamics",
            "Ye & Du (2021): plain gradient descent on $\\tfrac12\\|WH - X\\|_F^2$ from a small random start finds "
            "the global minimum. Watch the loss plateau and drop, the singular values of W and H grow one by one, and "
            "W and H stay balanced.")
seed = layout.seed()

st.markdown("Here X is a real m×n matrix (entries of either sign) of exact rank d, with singular values spread "
            "evenly from 1 down to 1/κ; Θ = W H with W m×r and H r×n.")
c1, c2, c3, c4 = st.columns(4)
m = int(persistent(c1.slider, "dyn_m", 40, "m", min_value=5, max_value=200))
n = int(persistent(c2.slider, "dyn_n", 30, "n", min_value=5, max_value=200))
d = int(persistent(c3.slider, "dyn_d", 3, "rank d of X", min_value=1, max_value=min(10, m, n)))
kappa = float(persistent(c4.select_slider, "dyn_kappa", 4.0, "condition κ = σ₁/σ_d of X",
                         options=[1.0, 2.0, 4.0, 10.0, 30.0, 100.0]))


@st.cache_data(show_spinner=False, max_entries=32)
def target(m: int, n: int, d: int, kappa: float, seed: int) -> np.ndarray:
    """X = Q₁ diag(s) Q₂ᵀ of exact rank d, s evenly spaced in [1/κ, 1]."""
    rng = np.random.default_rng(seed)
    Q1, _ = np.linalg.qr(rng.standard_normal((m, d)))
    Q2, _ = np.linalg.qr(rng.standard_normal((n, d)))
    return (Q1 * np.linspace(1.0, 1.0 / kappa, d)) @ Q2.T


Sigma = target(m, n, d, kappa, seed)
spec = nmdcore.SOLVERS["gd"]
SLOT = "dynamics"
left, right = st.columns([1, 2])
with left:
    with st.form("dyn_form"):
        r = int(persistent(st.slider, "dyn_rank", min(d, min(m, n) - 1), "factor rank r (W is m×r)",
                           min_value=1, max_value=min(m, n) - 1))
        submitted = st.form_submit_button("Run gradient descent", type="primary", key="dyn_run", width="stretch")
        params = controls.hyperparameters("gd", prefix="dyn")
        run_cfg = controls.budgets("dyn", max_iter=3000, time_limit=20.0, starts=("random", "tsvd"))
with right:
    with runs.stop_row(SLOT, "dyn_stop"):
        log_y = persistent(st.toggle, "dyn_log", True, "Log-scale loss axis")


def loss_figure(history: dict):
    """The recorded loss only: X has negative entries, so a ReLU error would mean nothing here."""
    return figures.lines(figures.iterations(history), {"loss (relative)": history["objective"]},
                         xlabel="iteration", ylabel="relative loss", log_y=log_y)


def live_loss(run, histories):
    st.plotly_chart(loss_figure(histories[-1][1]), key="dyn-loss", width="stretch")


setting = (m, n, d, kappa, seed)
if submitted:
    runs.start(SLOT, [runs.Job(Sigma, r, "gd", params, init=run_cfg["init"], max_iter=run_cfg["max_iter"],
                               time_limit=run_cfg["time_limit"], seed=seed)], inputs=setting)

run = runs.section(SLOT, setting, prompt="Set the step and the start scale, then press **Run gradient descent**.",
                   draw=live_loss, where=right)
res = run.result
h = run.histories()[-1][1]  # thinned for drawing, with its iteration numbers
with right:
    st.success(results.outcome(spec.label, res.rank, res.n_iter, res.history["time"][-1], res.stop_reason,
                               run.stopped_by == runs.BY_YOU) + f" Final loss {h['objective'][-1]:.3g}.")
    live_loss(run, [("", h)])
    warning = results.run_warning(res.stop_reason, h["objective"][-1], None)  # X is real: no ReLU error to compare
    if warning:
        st.warning(warning, icon=":material/warning:")
its = figures.iterations(h)
c1, c2 = st.columns(2)
# the solver's factors are U and V with Θ = U Vᵀ: W = U and H = Vᵀ in this app's notation
sv_W = {f"σ{i}(W)": h[f"sv_U_{i}"] for i in range(1, 6) if f"sv_U_{i}" in h and np.any(h[f"sv_U_{i}"] > 0)}
sv_H = {f"σ{i}(H)": h[f"sv_V_{i}"] for i in range(1, 6) if f"sv_V_{i}" in h and np.any(h[f"sv_V_{i}"] > 0)}
c1.plotly_chart(figures.lines(its, {**sv_W, **sv_H}, xlabel="iteration", ylabel="singular value", log_y=True,
                              title="Singular values of W (solid) and H (dashed)", dashed=tuple(sv_H)),
                key="dyn-sv", width="stretch")
c2.plotly_chart(figures.lines(its, {"‖WᵀW − HHᵀ‖<sub>F</sub>": h["imbalance"]}, xlabel="iteration",
                              ylabel="imbalance", log_y=True, title="Balancedness"), key="dyn-imbalance",
                width="stretch")
s = np.linalg.svd(Sigma, compute_uv=False)[:d]
st.caption("Singular values of X: " + ", ".join(f"{v:.3g}" for v in s)
           + ". From a small balanced start, σᵢ(W) and σᵢ(H) both grow towards √σᵢ(X) = "
           + ", ".join(f"{np.sqrt(v):.3g}" for v in s) + ".")
