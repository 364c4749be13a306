"""Declarative description of solvers and their hyperparameters."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ._errors import HyperparameterError


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
    run : callable
        ``run(problem, start, params, monitor) -> (theta, factors)``.
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
