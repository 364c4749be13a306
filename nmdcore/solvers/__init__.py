"""Solver families. Each module exposes ``SPECS``, a tuple of SolverSpec."""
from .baseline import SPECS as _baseline

ALL_SPECS = (*_baseline,)
