"""Declarative description of solvers and their hyperparameters."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ._errors import HyperparameterError

#: The controls :attr:`Hyperparameter.control` may name ("" derives one).
CONTROLS = ("", "slider", "log_slider", "select", "checkbox", "number")

#: Pages of the app that can offer a solver (:attr:`SolverSpec.pages`).
PAGES = ("learn", "explore", "compare", "compress", "symmetric", "dynamics", "applications")
#: The pages of a ReLU-NMD solver for any nonnegative matrix.
GENERAL_PAGES = ("learn", "explore", "compare", "compress")
#: The pages of a latent or three-block solver: also the applications (they use the offset model).
LATENT_PAGES = (*GENERAL_PAGES, "applications")


@dataclass(frozen=True)
class MemoryModel:
    """Peak memory of one :func:`nmdcore.decompose` call, in arrays of the working dtype.

    Measured with ``tracemalloc`` around ``decompose`` (``benchmarks/memory.py``), the
    caller's X not counted and decompose's own copy of X counted (decompose makes none
    when X already is a writeable C-contiguous array of the working dtype:
    :func:`nmdcore.estimate_memory` then counts one array less); where the two dtypes
    differ, the larger count is kept, so the model errs on the safe side.

    Attributes
    ----------
    held : float
        m×n arrays alive between iterations (the copy of X included).
    transient : float
        m×n arrays an iteration allocates and frees again, at its peak.
    square : float
        p×p arrays (p = min(m, n)) at an iteration's peak: the Gram matrix of a
        truncated SVD and its eigensolver's copies.
    setup : float
        m×n arrays at the peak of the setup (validation, copy of X, the start).
    setup_square : float
        p×p arrays of the setup: the TSVD start's Gram matrix, the eigensolver's copy,
        eigenvectors and workspace (LAPACK's workspace is not seen by tracemalloc).
    """

    held: float
    transient: float
    square: float = 0.0
    setup: float = 3.0
    setup_square: float = 5.0

    def peak_arrays(self, m: int, n: int) -> float:
        """Peak memory in units of one m×n array: the larger of the setup and an iteration."""
        squares = min(m, n) ** 2 / (m * n)
        return max(self.held + self.transient + self.square * squares,
                   self.setup + self.setup_square * squares)


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable parameter of a solver.

    Parameters
    ----------
    name : str
        Python keyword accepted by :func:`nmdcore.decompose`.
    default : float, int, str or bool
        Value used when the caller does not pass one.
    low, high : float or None
        Inclusive bounds (``None``: unbounded). ``low_open``/``high_open`` make a
        bound strict.
    help : str
        One line for tooltips and docs.
    kind : {"float", "int", "choice", "bool"}
    choices : tuple
        Allowed values when ``kind == "choice"``.
    log : bool
        Hint for a user interface: the value spans decades (use a log slider).
    symbol : str
        Mathematical symbol used in the papers (for labels), e.g. ``"λ"``.
    control : {"", "slider", "log_slider", "select", "checkbox", "number"}
        The control a user interface gives the parameter; empty: derived from the
        other fields (see :attr:`widget`).
    slider_range : (float, float) or None
        The range a slider offers when a bound is open-ended (e.g. γ > 1 of A-NMD:
        ``(1, 2)``); values outside it remain valid through the Python API.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""
    kind: str = "float"
    choices: tuple = ()
    log: bool = False
    low_open: bool = False
    high_open: bool = False
    symbol: str = ""
    control: str = ""
    slider_range: tuple | None = None

    def __post_init__(self):
        if self.control not in CONTROLS:
            raise ValueError(f"{self.name}: control must be one of {CONTROLS}, got {self.control!r}")
        span = self.range()
        if self.control in ("slider", "log_slider") and (span is None or not span[0] < span[1]):
            raise ValueError(f"{self.name}: a {self.control} needs a range (low and high, or slider_range)")
        if self.control == "log_slider" and span[0] <= 0:
            raise ValueError(f"{self.name}: a log_slider needs a positive range, got {span}")

    @property
    def widget(self) -> str:
        """The control a user interface gives this parameter.

        ``control`` when set; otherwise ``"select"`` for choices, ``"checkbox"`` for
        booleans, ``"log_slider"`` for scale-like parameters (``log``) with a positive
        range, ``"slider"`` when the range is bounded (by ``low``/``high`` or
        ``slider_range``), else ``"number"``.
        """
        if self.control:
            return self.control
        if self.kind == "choice":
            return "select"
        if self.kind == "bool":
            return "checkbox"
        span = self.range()
        if span is None:
            return "number"
        return "log_slider" if self.log and span[0] > 0 else "slider"

    def range(self) -> tuple | None:
        """``(low, high)`` a slider spans: ``slider_range`` or the bounds; None when unbounded."""
        if self.slider_range is not None:
            return tuple(float(v) for v in self.slider_range)
        if self.low is None or self.high is None:
            return None
        return float(self.low), float(self.high)

    def validate(self, value: Any, solver: str) -> Any:
        """Return ``value`` converted to the parameter's kind, or raise HyperparameterError."""
        where = f"{solver}: hyperparameter {self.name!r}"
        if self.kind == "choice":
            if value not in self.choices:
                raise HyperparameterError(
                    f"{where} must be one of {list(self.choices)}, got {value!r}")
            return value
        if self.kind == "bool":
            if not isinstance(value, (bool,)) and value not in (0, 1):
                raise HyperparameterError(f"{where} must be True or False, got {value!r}")
            return bool(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise HyperparameterError(f"{where} must be a number, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise HyperparameterError(f"{where} must be an integer, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value):
            raise HyperparameterError(f"{where} must be finite, got {value!r}")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            op = ">" if self.low_open else ">="
            raise HyperparameterError(f"{where} must be {op} {self.low}, got {value!r}")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            op = "<" if self.high_open else "<="
            raise HyperparameterError(f"{where} must be {op} {self.high}, got {value!r}")
        return value


@dataclass(frozen=True)
class SolverSpec:
    """Everything the library and the app need to know about one solver.

    Attributes
    ----------
    key : str
        Registry key, e.g. ``"ebcd"``.
    label : str
        Human-readable name, e.g. ``"eBCD-NMD"``.
    family : str
        ``"baseline"``, ``"latent"``, ``"three_block"``, ``"coordinate"``,
        ``"symmetric"`` or ``"factorization"``.
    model : str
        The optimisation model (``"Latent-RMD"``, ``"3B-RMD"``, ...).
    paper : str
        Short citation of the source.
    objective : str
        What ``history["objective"]`` records for this solver.
    hyperparameters : tuple of Hyperparameter
    start_names : tuple of str
        Names accepted in an explicit ``init`` mapping (the first ones are required).
    required_start : tuple of str
        Names that an explicit start must contain.
    input_kind : {"nonnegative", "symmetric", "real"}
        What the data matrix must be.
    iterative : bool
        False for one-shot baselines (TSVD).
    tol, tol_stall : float
        Default stopping tolerances (the reference code's defaults).
    max_rank_inclusive : bool
        True when ``rank == min(m, n)`` is allowed (TSVD).
    extras : tuple of str
        Names of additional per-iteration history entries (e.g. ``"alpha"``).
    description : str
        Technical notes on the implementation (for the documentation).
    summary : str
        Two plain-language sentences for users: what the solver does and when to
        pick it.
    memory : MemoryModel
        Its peak memory (:func:`nmdcore.estimate_memory` reads it).
    pages : tuple of str
        Pages of the app that offer it (from :data:`PAGES`).
    shares_tsvd_start : bool
        True when ``init="tsvd"`` is exactly ``init={"W": U_r, "H": Σ_r V_rᵀ}``, the
        factors of the TSVD baseline, so a caller that has them can pass them instead
        of computing the truncation again.
    run : callable
        ``run(problem, start, params, monitor) -> (theta, factors)``.
    run_offset : callable or None
        ``run_offset(problem, start, params, monitor, c) -> (theta, factors)``: the
        solver on the offset model X ≈ max(0, Θ + c·11ᵀ) (``decompose(..., offset=c)``);
        None when the solver has no offset model.
    prepare_start : callable
        ``prepare_start(problem, init) -> dict`` builds the starting arrays.
    """

    key: str
    label: str
    family: str
    model: str
    paper: str
    objective: str
    run: Callable = field(repr=False)
    prepare_start: Callable = field(repr=False)
    hyperparameters: tuple = ()
    start_names: tuple = ()
    required_start: tuple = ()
    input_kind: str = "nonnegative"
    iterative: bool = True
    tol: float = 1e-9
    tol_stall: float = 1e-10
    max_rank_inclusive: bool = False
    extras: tuple = ()
    description: str = ""
    summary: str = ""
    memory: MemoryModel = MemoryModel(held=3.0, transient=1.0)
    pages: tuple = ("explore", "compare")
    shares_tsvd_start: bool = False
    run_offset: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.memory, MemoryModel):
            raise TypeError(f"{self.key}: memory must be a MemoryModel, got {type(self.memory).__name__}")
        unknown = [p for p in self.pages if p not in PAGES]
        if unknown:
            raise ValueError(f"{self.key}: unknown page {unknown[0]!r} (pages: {', '.join(PAGES)})")

    def defaults(self) -> dict:
        """Default value of every hyperparameter."""
        return {h.name: h.default for h in self.hyperparameters}

    def resolve(self, given: Mapping[str, Any]) -> dict:
        """Validate ``given`` against the spec and fill in defaults."""
        known = {h.name: h for h in self.hyperparameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise HyperparameterError(
                f"{self.key}: unknown hyperparameter {unknown[0]!r} (valid: {valid})")
        out = self.defaults()
        for name, value in given.items():
            out[name] = known[name].validate(value, self.key)
        return out
