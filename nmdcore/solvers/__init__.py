"""Solver families. Each module exposes ``SPECS``, a tuple of SolverSpec.

``ALL_SPECS`` lists them in the order users meet them: the baseline, the
latent-model solvers, the three-block solvers, coordinate descent, the
symmetric solvers and the factorization teaching solver.
"""
from .baseline import SPECS as _baseline
from .coordinate import SPECS as _coordinate
from .factorization import SPECS as _factorization
from .latent import SPECS as _latent
from .symmetric import SPECS as _symmetric
from .three_block import SPECS as _three_block

from .offset import with_offset_model

# the latent and three-block solvers get their offset versions (solvers/offset.py) on their specs
ALL_SPECS = tuple(with_offset_model(spec) for spec in
                  (*_baseline, *_latent, *_three_block, *_coordinate, *_symmetric, *_factorization))
