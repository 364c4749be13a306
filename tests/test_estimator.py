"""nmdcore.ReLUNMD: scikit-learn's own estimator checks, and what transform promises."""
import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")
from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nmdcore  # noqa: E402
from nmdcore import HyperparameterError, NegativeEntriesError, ReLUNMD  # noqa: E402


def expected_failed_checks(estimator):
    """ReLUNMD.expected_failed_checks; the attributes-in-init check must pass when no hyperparameter is given."""
    failing = dict(ReLUNMD.expected_failed_checks)
    if not set(estimator.get_params()) - set(ReLUNMD._get_param_names()):
        del failing["check_no_attributes_set_in_init"]
    return failing


# n_components=1: several checks fit data with two features, where rank 1 is the only rank below min(m, n)
@parametrize_with_checks([ReLUNMD(1), ReLUNMD(1, solver="a_nmd"), ReLUNMD(1, solver="nmd_3b", beta=0.5)],
                         expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def planted():
    """X = max(0, W H): 80 samples, 50 features, ReLU-rank 4."""
    rng = np.random.default_rng(3)
    return np.maximum(0, rng.standard_normal((80, 4)) @ rng.standard_normal((4, 50)))


@pytest.mark.parametrize("solver", ["ebcd", "nmd_3b", "naive", "cd"])
def test_fit_finds_the_planted_decomposition(planted, solver):
    model = ReLUNMD(4, solver=solver, max_iter=2000, random_state=0)
    W = model.fit_transform(planted)
    res = nmdcore.decompose(planted, 4, solver, max_iter=2000, random_state=0)
    np.testing.assert_array_equal(W @ model.components_, res.factors["W"] @ res.factors["H"])  # thin over decompose
    assert W.shape == (80, 4) and model.components_.shape == (4, 50) and model.n_components_ == 4
    assert model.n_iter_ == res.n_iter and model.stop_reason_ == res.stop_reason
    np.testing.assert_array_equal(model.history_["relu_error"], res.history["relu_error"])
    assert model.reconstruction_err_ == pytest.approx(np.linalg.norm(planted - model.inverse_transform(W)), rel=1e-12)
    assert model.reconstruction_err_ < 1e-3 * np.linalg.norm(planted)


def test_transform_of_the_training_data_gives_fit_transform_back(planted):
    model = ReLUNMD(4, solver="ebcd", max_iter=2000, random_state=0)
    W = model.fit_transform(planted)
    np.testing.assert_allclose(model.transform(planted), W, rtol=0, atol=1e-6 * np.abs(W).max())


def test_transform_recovers_the_codes_of_new_samples(planted):
    model = ReLUNMD(4, solver="ebcd", max_iter=2000, random_state=0).fit(planted)
    W_new = np.random.default_rng(9).standard_normal((25, 4))
    X_new = np.maximum(0, W_new @ model.components_)
    np.testing.assert_allclose(model.transform(X_new), W_new, rtol=0, atol=1e-8 * np.abs(W_new).max())
    np.testing.assert_allclose(model.inverse_transform(model.transform(X_new)), X_new, atol=1e-8 * X_new.max())


def test_transform_minimizes_the_model_objective_with_H_fixed():
    """On data that is not ReLU-low-rank, transform's W is no worse than any nearby W."""
    rng = np.random.default_rng(1)
    X = np.where(rng.random((50, 70)) < 0.25, 0.1 + rng.random((50, 70)), 0.0)
    model = ReLUNMD(6, solver="bcd", max_iter=200).fit(X)
    H = model.components_

    def objective(W):
        T = W @ H
        return 0.5 * np.sum(np.where(X > 0, X - T, np.maximum(0, T)) ** 2)

    W = model.transform(X)
    best = objective(W)
    assert best <= objective(model.fit_transform(X)) + 1e-12
    for _ in range(20):
        assert objective(W + 1e-4 * rng.standard_normal(W.shape)) >= best


def test_hyperparameters_are_parameters():
    model = ReLUNMD(3, solver="nmd_tm", lam=1e-3)
    assert model.get_params()["lam"] == 1e-3
    twin = clone(model).set_params(alpha=0.9)
    assert twin.get_params()["alpha"] == 0.9 and twin.lam == 1e-3 and "alpha" not in model.get_params()


def test_bad_input_raises_the_library_errors(planted):
    with pytest.raises(NegativeEntriesError, match="Negative values in data passed to ReLUNMD.fit"):
        ReLUNMD(2).fit(-planted)
    with pytest.raises(HyperparameterError, match="ReLUNMD takes one of"):
        ReLUNMD(2, solver="nsmd_apb").fit(planted)
    with pytest.raises(HyperparameterError):
        ReLUNMD(2, solver="ebcd", beta=0.3).fit(planted)
    with pytest.raises(NegativeEntriesError):
        ReLUNMD(2, max_iter=20).fit(planted).transform(-planted)
