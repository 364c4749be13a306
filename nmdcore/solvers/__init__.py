"""Solver families. Each module exposes ``SPECS``, a tuple of SolverSpec."""
from .baseline import SPECS as _baseline
from .symmetric import SPECS as _symmetric
from .three_block import SPECS as _three_block

ALL_SPECS = (*_baseline, *_symmetric, *_three_block,)
