"""Solver families. Each module exposes ``SPECS``, a tuple of SolverSpec."""
from .baseline import SPECS as _baseline
from .coordinate import SPECS as _coordinate
from .factorization import SPECS as _factorization
from .latent import SPECS as _latent
from .symmetric import SPECS as _symmetric
from .three_block import SPECS as _three_block

ALL_SPECS = (*_baseline, *_coordinate, *_factorization, *_latent, *_symmetric, *_three_block,)
