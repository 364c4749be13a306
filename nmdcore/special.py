"""Special functions of the solvers, public for benchmarks and for use outside them."""
from __future__ import annotations

import numpy as np

from . import _erfcx, _kernels


def erfcx(x, out=None) -> np.ndarray:
    """The scaled complementary error function exp(x²) erfc(x), elementwise, as EM computes it.

    These are the values EM-NMD's E-step uses (Saul (2022), "A nonlinear matrix
    decomposition for mining the zeros of sparse data"): nmdcore's own branch-free
    erfcx, in float32 arithmetic for float32 input (within 3 float32 ulp) and in float64
    otherwise, through the E-step's compiled loop when numba is installed (the kernel
    backend of :mod:`nmdcore._kernels`), else its NumPy twin; both give the same values.

    Parameters
    ----------
    x : array_like
        Arguments; float32 stays float32, anything else is converted to float64.
    out : numpy.ndarray or None
        C-contiguous array of x's shape and (converted) dtype to write into.

    Returns
    -------
    numpy.ndarray
        The values (``out`` when given).

    Examples
    --------
    >>> import numpy as np
    >>> from nmdcore.special import erfcx
    >>> bool(abs(erfcx(np.array([0.0]))[0] - 1.0) < 1e-15)
    True
    """
    x = np.asarray(x)
    x = x if x.dtype == np.float32 else x.astype(np.float64, copy=False)
    if out is None:
        out = np.empty(x.shape, x.dtype)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {x.dtype.name} array of shape {x.shape}")
    kernels = _kernels.fused_kernels()
    if kernels is None:
        return (_erfcx.erfcx32 if x.dtype == np.float32 else _erfcx.erfcx)(x, out=out)
    kernels.erfcx_pass(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out
