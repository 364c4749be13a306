"""Solver controls built from the registry: solver choice, hyperparameters, rank and budgets."""
from __future__ import annotations

import math

import streamlit as st

import nmdcore

from .state import kept, persistent, set_kept

def solvers_for(page: str) -> list[str]:
    """Registry keys of the solvers whose spec offers them on ``page`` (``SolverSpec.pages``), in order."""
    return [k for k, s in nmdcore.SOLVERS.items() if page in s.pages]


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


def plain_number(value: float) -> str:
    """A value as a user reads it: ``0.0001`` rather than ``1e-04``, ``20`` rather than ``20.0``."""
    text = f"{value:.12g}"
    if "e" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text


def log_grid(low: float, high: float, default: float) -> list[float]:
    """1-2-5 steps per decade from ``low`` to ``high`` (both > 0), plus ``default``."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    grid = {float(f"{m}e{e}") for e in range(lo, hi + 1) for m in (1, 2, 5)} | {float(default)}
    return sorted(v for v in grid if low <= v <= high)


def _slider_ends(h) -> tuple[float, float]:
    """The slider's range, pulled inside strict bounds by one step."""
    low, high = h.range()
    step = _step(low, high)
    if h.low_open and h.low is not None and low <= h.low:
        low = h.low + step
    if h.high_open and h.high is not None and high >= h.high:
        high = h.high - step
    return low, high


def _step(low: float, high: float) -> float:
    return 10.0 ** (math.floor(math.log10(high - low)) - 2)


def hyperparameter_widget(spec, h, key: str):
    """The control ``h.widget`` names for hyperparameter ``h`` of ``spec``, within its range, with its help."""
    label = f"{h.symbol} ({h.name})" if h.symbol else h.name
    help_text = h.help or None
    kind = h.widget
    if kind == "select":
        return persistent(st.selectbox, key, h.default, label, options=list(h.choices), help=help_text)
    if kind == "checkbox":
        return persistent(st.checkbox, key, bool(h.default), label, help=help_text)
    if kind == "log_slider":
        low, high = h.range()
        grid = [v for v in log_grid(low, high, h.default)
                if not ((h.low_open and v == h.low) or (h.high_open and v == h.high))]
        return float(persistent(st.select_slider, key, float(h.default), label, options=grid,
                                format_func=plain_number, help=help_text))
    if kind == "slider":
        low, high = _slider_ends(h)
        if h.kind == "int":
            return int(persistent(st.slider, key, int(h.default), label, min_value=int(math.ceil(low)),
                                  max_value=int(math.floor(high)), step=1, help=help_text))
        default = float(min(max(h.default, low), high))
        return float(persistent(st.slider, key, default, label, min_value=float(low), max_value=float(high),
                                step=_step(*h.range()), format="%g", help=help_text))
    if h.kind == "int":
        lo = None if h.low is None else int(math.floor(h.low)) + (1 if h.low_open else 0)
        hi = None if h.high is None else int(math.ceil(h.high)) - (1 if h.high_open else 0)
        return int(persistent(st.number_input, key, int(h.default), label, min_value=lo, max_value=hi,
                              step=1, help=help_text))
    eps = 1e-12
    lo = None if h.low is None else float(h.low + eps if h.low_open else h.low)
    hi = None if h.high is None else float(h.high - eps if h.high_open else h.high)
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


def hyperparameter_expanders(solvers, prefix: str) -> dict:
    """One expander of hyperparameter widgets per solver (pages that run several); ``{key: values}``."""
    values = {}
    for key in solvers:
        with st.expander(f"{nmdcore.SOLVERS[key].label} hyperparameters"):
            values[key] = hyperparameters(key, prefix=prefix)
    return values


def rank_slider(shape, key: str = "rank", default: int = 20, cap: int = 200, inclusive=False) -> int:
    """Rank r between 1 and min(m, n) − 1 (at most ``cap``); kept across pages.

    The rank the user asked for is remembered apart from the slider: a small matrix
    (the 5×5 example) shows it clamped to what fits, and a larger one gets it back.
    """
    top = max(1, min(min(shape) - (0 if inclusive else 1), cap))
    wanted_key = f"_wanted_{key}"
    wanted = int(st.session_state.get(wanted_key, kept(key, default)))
    shown = min(max(wanted, 1), top)
    set_kept(key, shown)  # the default of a slider re-mounted with the new bounds
    value = int(persistent(st.slider, key, shown, "Rank r", min_value=1, max_value=max(top, 2),
                           help="Target rank of Θ."))
    st.session_state[wanted_key] = value if value != shown else wanted  # moved by the user: a new wish
    return value


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
