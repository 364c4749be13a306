"""Solver controls built from the registry: solver choice, hyperparameters, rank and budgets."""
from __future__ import annotations

import math

import streamlit as st

import nmdcore

from .state import kept, persistent, set_kept

#: Families whose solvers take a general nonnegative X (the Explore and Compare pages).
GENERAL_FAMILIES = ("baseline", "latent", "three_block", "coordinate", "factorization")


def solvers_for(families=GENERAL_FAMILIES, *, input_kind=("nonnegative", "real")) -> list[str]:
    """Registry keys of the solvers in ``families`` that accept ``input_kind``, in registry order."""
    return [k for k, s in nmdcore.SOLVERS.items()
            if s.family in families and s.input_kind in input_kind]


def solver_label(key: str) -> str:
    """Label and model of a registered solver (e.g. "eBCD-NMD — 3B-RMD"), for select boxes."""
    spec = nmdcore.SOLVERS[key]
    return f"{spec.label} — {spec.model}"


def solver_picker(keys: list[str], key: str = "solver", default: str = "ebcd") -> str:
    """Select one solver of ``keys``; shows what it does, when to pick it, and its paper underneath."""
    if default not in keys:
        default = next((k for k in keys if nmdcore.SOLVERS[k].iterative), keys[0])
    choice = persistent(st.selectbox, key, default, "Solver", options=keys, format_func=solver_label,
                        help="Every solver registered in nmdcore.SOLVERS that fits this data; "
                             "docs/solver_notes.md has the technical notes of each.")
    st.caption(solver_words(choice))
    return choice


def solver_words(key: str) -> str:
    """What a solver does and when to pick it (its two-sentence summary), then its citation (markdown)."""
    spec = nmdcore.SOLVERS[key]
    return f"{spec.summary}  \n{spec.paper}."


def solver_notes(keys: list[str]) -> None:
    """An expander with the words of every solver in ``keys`` (for multiselect pickers)."""
    if keys:
        with st.expander("What these solvers do"):
            for key in keys:
                st.markdown(f"**{nmdcore.SOLVERS[key].label}** — {solver_words(key)}")


def _log_grid(low: float, high: float, default: float) -> list[float]:
    lo = math.floor(math.log10(low)) if low and low > 0 else -8
    hi = math.ceil(math.log10(high)) if high and math.isfinite(high) else lo + 10
    grid = {float(f"{m}e{e}") for e in range(lo, hi + 1) for m in (1, 2, 5)}
    grid.add(float(default))
    return sorted(v for v in grid if (low is None or v >= low) and (high is None or v <= high))


def hyperparameter_widget(spec, h, key: str):
    """One widget for hyperparameter ``h`` of ``spec``, within its bounds, with its help."""
    label = f"{h.symbol} ({h.name})" if h.symbol else h.name
    help_text = h.help or None
    if h.kind == "choice":
        return persistent(st.selectbox, key, h.default, label, options=list(h.choices), help=help_text)
    if h.kind == "bool":
        return persistent(st.checkbox, key, bool(h.default), label, help=help_text)
    if h.kind == "int":
        lo = None if h.low is None else int(math.floor(h.low)) + (1 if h.low_open else 0)
        hi = None if h.high is None else int(math.ceil(h.high)) - (1 if h.high_open else 0)
        return int(persistent(st.number_input, key, int(h.default), label, min_value=lo, max_value=hi,
                              step=1, help=help_text))
    low, high = h.low, h.high
    if h.log and low is not None and low >= 0:
        grid = _log_grid(low if low > 0 else 1e-8, high if high is not None else math.inf, h.default)
        grid = [v for v in grid if not ((h.low_open and v == low) or (h.high_open and v == high))]
        return float(persistent(st.select_slider, key, float(h.default), label, options=grid,
                                format_func=lambda v: f"{v:g}", help=help_text))
    if low is not None and high is not None and high - low <= 10:
        step = 10.0 ** (math.floor(math.log10(high - low)) - 2)
        lo = low + step if h.low_open else low
        hi = high - step if h.high_open else high
        default = float(min(max(h.default, lo), hi))
        return float(persistent(st.slider, key, default, label, min_value=float(lo), max_value=float(hi),
                                step=float(step), help=help_text))
    eps = 1e-12
    lo = None if low is None else float(low + eps if h.low_open else low)
    hi = None if high is None else float(high - eps if h.high_open else high)
    return float(persistent(st.number_input, key, float(h.default), label, min_value=lo, max_value=hi,
                            format="%g", help=help_text))


def hyperparameters(solver: str, prefix: str = "hp") -> dict:
    """Widgets for every hyperparameter of ``solver`` (from its SolverSpec); returns their values."""
    spec = nmdcore.SOLVERS[solver]
    values = {}
    for h in spec.hyperparameters:
        values[h.name] = hyperparameter_widget(spec, h, f"{prefix}_{solver}_{h.name}")
    if not spec.hyperparameters:
        st.caption("This solver has no hyperparameters.")
    return values


def rank_slider(shape, key: str = "rank", default: int = 20, cap: int = 200, inclusive=False) -> int:
    """Rank r between 1 and min(m, n) − 1 (at most ``cap``); kept across pages."""
    top = max(1, min(min(shape) - (0 if inclusive else 1), cap))
    value = int(st.session_state.get(key, kept(key, default)))
    set_kept(key, min(max(value, 1), top))
    return int(persistent(st.slider, key, default, "Rank r", min_value=1, max_value=max(top, 2),
                          help="Target rank of Θ."))


def budgets(prefix: str, *, max_iter=300, time_limit=20.0, starts=("tsvd", "random")) -> dict:
    """Start, iteration budget and time budget; returns ``decompose`` keyword arguments."""
    init = persistent(st.radio, f"{prefix}_init", starts[0], "Start", options=list(starts), horizontal=True,
                      help="tsvd: the truncated SVD of X; random: the papers' rescaled Gaussian start.")
    c1, c2 = st.columns(2)
    with c1:
        iters = persistent(st.number_input, f"{prefix}_max_iter", max_iter, "Max iterations",
                           min_value=1, max_value=100_000, step=50)
    with c2:
        seconds = persistent(st.number_input, f"{prefix}_time_limit", float(time_limit), "Time budget (s)",
                             min_value=0.5, max_value=600.0, step=5.0)
    return {"init": init, "max_iter": int(iters), "time_limit": float(seconds)}


def python_snippet(dataset: str | None, solver: str, rank: int, params: dict, run: dict, seed: int) -> str:
    """The same call in plain Python, ready to paste (``dataset`` None: the user's own matrix)."""
    kwargs = "".join(f", {k}={v!r}" for k, v in params.items())
    load = (f"from nmdcore import datasets\n\nX = datasets.load({dataset!r}).X\n" if dataset
            else "import numpy as np\n\nX = np.load('my_matrix.npy')  # your uploaded data, m×n\n")
    return (
        "import nmdcore\n"
        + load +
        f"res = nmdcore.decompose(X, {rank}, solver={solver!r}, init={run['init']!r},\n"
        f"                        max_iter={run['max_iter']}, time_limit={run['time_limit']!r},"
        f" random_state={seed}{kwargs})\n"
        "print(res, res.history['relu_error'][-1])\n"
    )
