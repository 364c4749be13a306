"""nmdcore's own erfcx (float64 and float32): accuracy against mpmath, special values, and its
NumPy, scalar and compiled implementations agreeing bit for bit."""
import importlib.util
from pathlib import Path

import mpmath
import numpy as np
import pytest

from nmdcore import _kernels
from nmdcore._erfcx import erfcx, erfcx32, erfcx32_scalar, erfcx_native, erfcx_scalar

ROOT = Path(__file__).resolve().parents[1]
EPS = np.finfo(np.float64).eps
EPS32 = float(np.finfo(np.float32).eps)


def _exact(x: float):
    with mpmath.workdps(40):
        v = mpmath.mpf(float(x))
        return mpmath.exp(v * v) * mpmath.erfc(v)


def _ulp_errors(x: np.ndarray, values: np.ndarray, eps: float = EPS) -> np.ndarray:
    """|value − erfcx(x)| / (eps · erfcx(x)), the exact value taken with 40 digits."""
    with mpmath.workdps(40):
        return np.array([float(abs((mpmath.mpf(float(v)) - e) / e)) for v, e in zip(values, map(_exact, x))]) / eps


def _grid() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate([
        rng.uniform(0, 1, 500), rng.uniform(1, 6.2, 800), rng.uniform(6.2, 50, 500), 10 ** rng.uniform(1.7, 8, 200),
        10 ** rng.uniform(-15, 0, 200), -rng.uniform(0, 6.2, 800), -rng.uniform(6.2, 26.6, 400),
        [2.0, 1.0, 0.5, 10.0, 50.0, 1e8, -2.0, -1.0, -26.6],
    ])


def test_within_two_and_a_half_ulp_of_the_exact_value():
    x = _grid()
    errors = _ulp_errors(x, erfcx(x))
    assert errors.max() <= 2.5, x[np.argmax(errors)]


@pytest.mark.parametrize("x, expected", [
    (0.0, 1.0), (-0.0, 1.0), (np.inf, 0.0), (-np.inf, np.inf), (5e-324, 1.0), (-5e-324, 1.0),
    (-26.63, np.inf), (-1e300, np.inf),
])
def test_special_values(x, expected):
    assert erfcx(x) == expected
    with np.errstate(all="ignore"):
        assert erfcx_scalar(x) == expected


def test_nan_propagates_and_overflow_starts_where_two_exp_x_squared_overflows():
    with np.errstate(all="ignore"):
        assert np.isnan(erfcx(np.nan)) and np.isnan(erfcx_scalar(np.nan))
    # 2 exp(x²) <= DBL_MAX  <=>  |x| <= sqrt(log(DBL_MAX / 2)) = 26.62873...
    assert np.isfinite(erfcx(-26.6287)) and erfcx(-26.6288) == np.inf
    assert _ulp_errors(np.array([-26.6287]), erfcx(np.array([-26.6287])))[0] <= 2.5
    assert erfcx(1e300) == pytest.approx(1 / (1e300 * np.sqrt(np.pi)), rel=2 * EPS)


def _mixed_arguments(rng, size):
    return np.concatenate([rng.standard_normal(size) * 4, rng.uniform(-30, 80, size),
                           10 ** rng.uniform(-300, 300, 1000), -(10 ** rng.uniform(-300, 300, 1000)),
                           [np.inf, -np.inf, np.nan, 0.0, -0.0, 2.0, 50.0, 5e-324, -26.63, 1.7e308, -1.7e308]])


def test_numpy_version_equals_the_scalar_one_bit_for_bit():
    x = _mixed_arguments(np.random.default_rng(3), 300)
    with np.errstate(all="ignore"):
        expected = np.array([erfcx_scalar(v) for v in x])
    assert np.array_equal(erfcx(x).view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize("function, dtype", [(erfcx, np.float64), (erfcx32, np.float32)])
def test_shapes_and_out(function, dtype):
    x = np.linspace(-5, 60, 12_000, dtype=dtype).reshape(3, 4000)  # several NumPy chunks
    out = np.empty_like(x)
    assert function(x, out=out) is out
    assert np.array_equal(out, function(x.ravel()).reshape(x.shape))
    y = x.copy()
    function(y, out=y)
    assert np.array_equal(y, out)
    assert function(1.5).shape == () and function(1.5).dtype == dtype
    for bad in (np.empty((3, 4000), np.int64), np.empty((4000, 3), dtype), np.empty((3, 8000), dtype)[:, ::2]):
        with pytest.raises(ValueError, match="out must be"):
            function(x, out=bad)


def test_float64_version_takes_float32_arguments_and_rounds_into_float32_out():
    x = np.linspace(-5, 60, 12_000).reshape(3, 4000)
    assert erfcx(np.float32(1.5)) == erfcx(1.5)
    single = np.empty(x.shape, np.float32)
    erfcx(-x, out=single)  # down to erfcx(-60) = inf in float64 already
    with np.errstate(over="ignore"):
        assert np.array_equal(single, erfcx(-x).astype(np.float32))
    with pytest.raises(ValueError, match="out must be"):
        erfcx32(np.float32(x), out=np.empty(x.shape))


def test_table_is_what_the_build_script_writes():
    spec = importlib.util.spec_from_file_location("build_erfcx_table", ROOT / "scripts" / "build_erfcx_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.table_source() == (ROOT / "nmdcore" / "_erfcx_table.py").read_text()


# ---------------------------------------------------------------------------------------------
# float32

def _grid32() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.concatenate([
        rng.uniform(0, 1, 500), rng.uniform(1, 6.2, 800), rng.uniform(6.2, 50, 300), 10 ** rng.uniform(1.7, 30, 200),
        10 ** rng.uniform(-30, 0, 200), -rng.uniform(0, 1, 600), -rng.uniform(1, 9.38, 600),
        [2.0, 1.0, 0.5, 10.0, 1e30, -2.0, -1.0, -9.38],
    ]).astype(np.float32)


def test_float32_version_within_three_float32_ulp():
    x = _grid32()
    values = erfcx32(x)
    assert values.dtype == np.float32
    errors = _ulp_errors(x, values, EPS32)
    assert errors.max() <= 3.0, x[np.argmax(errors)]
    # nearly all of it is rounding: the median error is well below one ulp
    assert np.median(errors) < 0.5


@pytest.mark.parametrize("x, expected", [
    (0.0, 1.0), (-0.0, 1.0), (np.inf, 0.0), (-np.inf, np.inf), (1e-45, 1.0), (-1e-45, 1.0), (-9.3825, np.inf),
    (-3e38, np.inf),
])
def test_float32_special_values(x, expected):
    assert erfcx32(np.float32(x)) == expected
    with np.errstate(all="ignore"):
        assert erfcx32_scalar(x) == expected


def test_float32_nan_and_overflow_where_two_exp_x_squared_leaves_float32():
    with np.errstate(all="ignore"):
        assert np.isnan(erfcx32(np.float32(np.nan))) and np.isnan(erfcx32_scalar(np.nan))
    # 2 exp(x²) <= FLT_MAX  <=>  |x| <= sqrt(log(FLT_MAX / 2)) = 9.38244...
    assert np.isfinite(erfcx32(np.float32(-9.3824))) and erfcx32(np.float32(-9.38245)) == np.inf
    assert erfcx32(np.float32(1e30)) == pytest.approx(1 / (1e30 * np.sqrt(np.pi)), rel=2 * EPS32)


def test_float32_numpy_version_equals_the_scalar_one_bit_for_bit():
    x = _mixed_arguments(np.random.default_rng(4), 300)
    with np.errstate(all="ignore"):
        x = x.astype(np.float32)  # the ±1.7e308 become ±inf
        expected = np.array([erfcx32_scalar(v) for v in x], dtype=np.float32)
    assert np.array_equal(erfcx32(x).view(np.int32), expected.view(np.int32))


@pytest.mark.skipif(not _kernels.numba_available(), reason="numba is not installed")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_native_version_equals_the_numpy_one_bit_for_bit(dtype):
    """``erfcx_native`` as the kernels compile it: the float32 or float64 erfcx by the argument's type,
    with 2^k built from its bits instead of the NumPy versions' table."""
    import numba
    _kernels._load()

    @numba.njit(error_model="numpy")
    def apply(x, out):
        for k in range(x.size):
            out[k] = erfcx_native(x[k])

    with np.errstate(over="ignore"):
        x = _mixed_arguments(np.random.default_rng(6), 100_000).astype(dtype)
    out = np.empty_like(x)
    apply(x, out)
    expected = erfcx32(x) if dtype == np.float32 else erfcx(x)
    assert out.dtype == dtype
    assert np.array_equal(out.view(np.uint8), expected.view(np.uint8))


def test_native_picks_the_precision_of_its_argument():
    with np.errstate(all="ignore"):
        assert erfcx_native(np.float32(0.3)) == erfcx32_scalar(0.3)
        assert erfcx_native(0.3) == erfcx_scalar(0.3)
    assert isinstance(erfcx_native(np.float32(0.3)), np.float32)
