"""The solver registry: one :class:`SolverSpec` per solver.

The app builds its controls from these specs, and :func:`nmdcore.decompose`
validates hyperparameters against them. Each solver module declares its own
specs; :data:`SOLVERS` collects them in a fixed, readable order.
"""
from ._spec import Hyperparameter, SolverSpec
from .solvers import ALL_SPECS

SOLVERS: dict[str, SolverSpec] = {spec.key: spec for spec in ALL_SPECS}

__all__ = ["SOLVERS", "SolverSpec", "Hyperparameter"]
