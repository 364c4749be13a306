"""Solver families. Each module exposes ``SPECS``, a tuple of SolverSpec."""
from .baseline import SPECS as _baseline
from .symmetric import SPECS as _symmetric

ALL_SPECS = (*_baseline, *_symmetric,)
