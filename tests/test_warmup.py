"""nmdcore.warmup: every kernel a solver needs is compiled (or loaded) before its first real run."""
import subprocess
import sys

import numpy as np
import pytest

import nmdcore
from nmdcore import UnknownSolverError, _kernels


def test_import_does_not_load_numba():
    code = "import sys, nmdcore; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_warmup_compiles_the_kernels_of_the_given_solvers_for_both_dtypes():
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    seconds = nmdcore.warmup(["ebcd", "em", "cd"])
    assert sorted(seconds) == ["cd", "ebcd", "em"]
    assert all(s >= 0 for s in seconds.values())
    kernels = _kernels._load()
    for kernel in (kernels.ebcd_block, kernels.em_block):
        dtypes = {signature[0].dtype for signature in kernel.signatures}  # first argument: a block of X's dtype
        assert {np.dtype(np.float32), np.dtype(np.float64)} <= {np.dtype(str(d)) for d in dtypes}
    assert kernels.cd_attach.signatures  # CD's sweeps run in float64 whatever the data's dtype


def test_warmup_of_every_solver_and_unknown_keys():
    seconds = nmdcore.warmup()
    assert sorted(seconds) == sorted(nmdcore.SOLVERS)
    with pytest.raises(UnknownSolverError):
        nmdcore.warmup(["ebcd", "no_such_solver"])
