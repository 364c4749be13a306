"""nmdcore.metrics: the compressed-NMF error of Wang, Cui & Han (2024), eq. (10)."""
import numpy as np
import pytest
from scipy.optimize import nnls

import nmdcore
from nmdcore.metrics import compressed_nmf_error


def test_compressed_nmf_error_matches_column_by_column_nnls():
    rng = np.random.default_rng(0)
    U = np.maximum(rng.standard_normal((60, 8)) - 0.5, 0)
    M = np.maximum(rng.standard_normal((60, 30)), 0)
    direct = np.sqrt(sum(nnls(U, M[:, j])[1] ** 2 for j in range(30))) / np.linalg.norm(M)
    assert compressed_nmf_error(M, U) == pytest.approx(direct, rel=1e-9)
    # the error never increases when the basis gains columns
    assert compressed_nmf_error(M, U) <= compressed_nmf_error(M, U[:, :4]) + 1e-12
    # only the positive part of the basis counts; an all-zero basis explains nothing
    assert compressed_nmf_error(M, U - 2 * (U == 0)) == pytest.approx(compressed_nmf_error(M, U), rel=1e-12)
    assert compressed_nmf_error(M, -np.ones((60, 3))) == 1.0


def test_compressed_nmf_error_uses_evenly_spaced_columns_beyond_the_limit():
    rng = np.random.default_rng(1)
    U = np.maximum(rng.standard_normal((40, 5)), 0)
    M = np.maximum(rng.standard_normal((40, 90)), 0)
    picked = M[:, np.linspace(0, 89, 30).astype(int)]
    assert compressed_nmf_error(M, U, max_columns=30) == pytest.approx(compressed_nmf_error(picked, U, max_columns=None))


@pytest.mark.parametrize("M, U, error", [
    (np.ones((5, 4)), np.ones((6, 2)), nmdcore.ShapeError),
    (np.ones(5), np.ones((5, 2)), nmdcore.ShapeError),
    (np.zeros((5, 4)), np.ones((5, 2)), nmdcore.ShapeError),
    (np.full((5, 4), np.nan), np.ones((5, 2)), nmdcore.NonFiniteError),
])
def test_compressed_nmf_error_refuses_bad_input(M, U, error):
    with pytest.raises(error):
        compressed_nmf_error(M, U)
