"""nmdcore — nonlinear matrix decomposition with the ReLU function.

Given a nonnegative, usually sparse matrix X and a rank r, find a rank-r matrix
Θ with max(0, Θ) ≈ X. The one entry point is :func:`decompose`; the solvers it
can run are described in :data:`SOLVERS`.
"""
from ._api import Result, decompose, get_solver
from ._errors import (
    DatasetError,
    HyperparameterError,
    InitError,
    MemoryLimitError,
    NegativeEntriesError,
    NMDError,
    NonFiniteError,
    NotSymmetricError,
    OffsetNotSupportedError,
    RankError,
    ShapeError,
    UnknownSolverError,
    ZeroMatrixError,
)
from ._memory import available_memory, estimate_memory
from ._validation import copies_input
from ._monitor import Progress, describe_stop
from ._parallel import set_num_threads
from ._spec import Hyperparameter, MemoryModel, SolverSpec
from ._warmup import warmup
from .registry import SOLVERS, register

__version__ = "0.1.0"


def __getattr__(name):
    # The scikit-learn estimator imports scikit-learn, an optional dependency: load it on first use.
    if name == "ReLUNMD":
        from .estimator import ReLUNMD

        return ReLUNMD
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "decompose", "warmup", "describe_stop", "Result", "Progress", "SOLVERS", "SolverSpec", "Hyperparameter",
    "get_solver",
    "NMDError", "NonFiniteError", "NegativeEntriesError", "ShapeError", "ZeroMatrixError",
    "RankError", "UnknownSolverError", "HyperparameterError", "InitError", "NotSymmetricError", "OffsetNotSupportedError",
    "DatasetError", "ReLUNMD",
    "MemoryModel", "register", "estimate_memory", "copies_input", "available_memory", "MemoryLimitError", "set_num_threads",
]
