"""The validated problem a solver works on."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ._linalg import sq_norm


@dataclass
class Problem:
    """Data and settings shared by every solver of one :func:`nmdcore.decompose` call.

    Attributes
    ----------
    X : ndarray
        Dense, C-contiguous data matrix of the working dtype (float32 or float64).
    rank : int
    rng : numpy.random.Generator
        The only source of randomness of the run.
    norm_X : float
        ``‖X‖_F`` computed in float64.
    nonzeros : int
        Number of nonzero entries of X (given when validation counted them, else counted here).
    sq_norm_X : float
        ``‖X‖_F²`` in float64 (given when validation summed it, else summed here); ``norm_X``
        is its square root.
    """

    X: np.ndarray
    rank: int
    rng: np.random.Generator = field(repr=False)
    nonzeros: int = -1
    sq_norm_X: float = -1.0
    norm_X: float = field(init=False)
    _relu_error_of: tuple | None = field(init=False, default=None, repr=False)

    def remember_relu_error(self, theta: np.ndarray, error: float) -> np.ndarray:
        """Note that ``theta``, the solver's result, has ReLU error ``error`` (taken in the pass that
        formed it), so that :func:`nmdcore.decompose` need not take it again; returns ``theta``."""
        self._relu_error_of = (theta, error)
        return theta

    def known_relu_error(self, theta: np.ndarray) -> float | None:
        """The error noted for this very array by :meth:`remember_relu_error`, else None."""
        noted = self._relu_error_of
        return noted[1] if noted is not None and noted[0] is theta else None

    def __post_init__(self):
        if self.sq_norm_X < 0:
            self.sq_norm_X = sq_norm(self.X)
        self.norm_X = float(np.sqrt(self.sq_norm_X))
        if self.nonzeros < 0:
            self.nonzeros = int(np.count_nonzero(self.X))

    @property
    def shape(self) -> tuple:
        return self.X.shape

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @cached_property
    def lower(self) -> np.ndarray:
        """``X`` on Ω = {X > 0}, ``-inf`` on the zeros of X.

        With it the projection onto F(X) = {Z : max(0, Z) = X} is one call:
        ``np.clip(theta, problem.lower, problem.X, out=Z)`` gives X on Ω and
        ``min(0, theta)`` elsewhere.
        """
        return np.where(self.X > 0, self.X, np.array(-np.inf, dtype=self.X.dtype))

    def project(self, theta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Projection P(Θ) onto F(X): X on Ω, min(0, Θ) on the zeros of X."""
        return np.clip(theta, self.lower, self.X, out=out)
