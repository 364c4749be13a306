"""nmdcore.special.erfcx: the E-step's erfcx, compiled or NumPy, in the input's precision."""
import numpy as np
import pytest
from scipy import special as scipy_special

from nmdcore import _erfcx, _kernels
from nmdcore.special import erfcx


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erfcx_gives_the_e_steps_values(backend, dtype, monkeypatch):
    if backend == "numba" and not _kernels.numba_available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv(_kernels.ENV_VAR, backend)
    x = np.concatenate([np.linspace(-26, 30, 2001), [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    values = erfcx(x)
    assert values.dtype == dtype and values.shape == x.shape
    twin = _erfcx.erfcx32(x) if dtype == np.float32 else _erfcx.erfcx(x)
    assert np.array_equal(values, twin, equal_nan=True)
    moderate = np.isfinite(x) & (x > -5)  # where SciPy's value is accurate (accuracy: test_erfcx.py)
    np.testing.assert_allclose(values[moderate], scipy_special.erfcx(x[moderate].astype(np.float64)),
                               rtol=4e-7 if dtype == np.float32 else 1e-13)
    out = np.empty_like(x)
    assert erfcx(x, out=out) is out and np.array_equal(out, values, equal_nan=True)


def test_erfcx_converts_other_input_to_float64_and_checks_out():
    assert erfcx([0, 1]).dtype == np.float64
    with pytest.raises(ValueError, match="out must be"):
        erfcx(np.zeros(3), out=np.empty(3, np.float32))
