"""Exceptions raised by :mod:`nmdcore`.

Every error the library raises on bad input is an :class:`NMDError`, itself a
:class:`ValueError`, so callers can catch one class and show its one-line message.
"""


class NMDError(ValueError):
    """Base class of every input error raised by nmdcore."""


class NonFiniteError(NMDError):
    """The input holds NaN or infinite entries."""


class NegativeEntriesError(NMDError):
    """The input holds negative entries where a nonnegative matrix is required."""


class ShapeError(NMDError):
    """The input does not have a usable shape (not 2-D, empty, 1 x n, wrong start shape)."""


class ZeroMatrixError(NMDError):
    """The input is all zero (or constant), so there is nothing to decompose."""


class RankError(NMDError):
    """The requested rank is out of range for the matrix."""


class UnknownSolverError(NMDError):
    """No solver is registered under the requested key."""


class HyperparameterError(NMDError):
    """A hyperparameter is unknown, of the wrong type, or out of its bounds."""


class OffsetNotSupportedError(HyperparameterError):
    """``offset`` ≠ 0 was passed to a solver that has no offset version."""


class InitError(NMDError):
    """The starting point is unknown or does not fit the problem."""


class NotSymmetricError(NMDError):
    """A symmetric solver was given a matrix that is not square and symmetric."""


class DatasetError(NMDError):
    """A dataset cannot be loaded or an upload cannot be turned into a matrix."""


class MemoryLimitError(NMDError):
    """The run would need more memory than the machine has available (refused before allocating)."""
