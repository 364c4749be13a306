"""ReLUNMD: the ReLU decomposition as a scikit-learn transformer (samples as rows).

A thin layer over :func:`nmdcore.decompose`: ``fit`` runs the chosen solver on X
(n_samples × n_features) and keeps X ≈ max(0, W H) as ``W = fit_transform(X)`` and
``components_ = H``. ``transform`` finds W for new samples with H held fixed (see
:meth:`ReLUNMD.transform`). Needs scikit-learn (the ``sklearn`` extra).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("nmdcore.ReLUNMD needs scikit-learn >= 1.6: pip install 'nmdcore[sklearn]'") from exc

from ._api import decompose, get_solver
from ._errors import HyperparameterError, NegativeEntriesError, ShapeError, ZeroMatrixError
from ._validation import check_matrix
from .registry import SOLVERS

#: Solver families whose model is X ≈ max(0, W H) with free W and H (the estimator's solvers).
ESTIMATOR_FAMILIES = ("latent", "three_block", "coordinate")


class ReLUNMD(TransformerMixin, BaseEstimator):
    """Nonlinear matrix decomposition with the ReLU function, X ≈ max(0, W H).

    Samples are rows: X is n_samples × n_features, W = ``fit_transform(X)`` is
    n_samples × n_components and ``components_`` = H is n_components × n_features.

    Parameters
    ----------
    n_components : int, default=2
        The rank r of Θ = W H; ``1 <= n_components < min(n_samples, n_features)``.
    solver : str, default="ebcd"
        Key of :data:`nmdcore.SOLVERS` among the latent, three-block and coordinate
        solvers (``"naive"``, ``"a_nmd"``, ``"em"``, ``"a_em"``, ``"bcd"``, ``"ebcd"``,
        ``"nmd_3b"``, ``"nmd_tm"``, ``"cd"``).
    init : {"tsvd", "random"}, default="tsvd"
        Starting point, as in :func:`nmdcore.decompose`.
    max_iter : int, default=1000
        Iterations of the solver in ``fit``.
    tol, tol_stall : float or None, default=None
        Stopping rules of the solver (None: the solver's default; 0 switches off).
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the random start and randomized linear algebra.
    transform_max_iter : int, default=500
        Iterations of the alternating solve for W in ``transform``.
    transform_tol : float, default=1e-10
        ``transform`` stops when its objective decreases by less than this fraction
        of ‖X‖_F² in one iteration.
    **hyperparameters
        The solver's hyperparameters (``nmdcore.SOLVERS[solver].hyperparameters``),
        validated by :func:`nmdcore.decompose` at ``fit``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        H.
    n_components_ : int
        The rank used.
    n_iter_ : int
        Iterations the solver performed in ``fit``.
    reconstruction_err_ : float
        ‖X − max(0, W H)‖_F of the training data (not divided by ‖X‖_F).
    history_ : dict of ndarray
        The solver's per-iteration record (:attr:`nmdcore.Result.history`):
        ``"objective"``, ``"relu_error"`` (relative), ``"time"`` and solver extras.
    stop_reason_ : str
        Why ``fit`` stopped (:attr:`nmdcore.Result.stop_reason`).
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmdcore import ReLUNMD
    >>> rng = np.random.default_rng(0)
    >>> X = np.maximum(0, rng.standard_normal((60, 5)) @ rng.standard_normal((5, 40)))
    >>> model = ReLUNMD(n_components=5, solver="ebcd", random_state=0)
    >>> W = model.fit_transform(X)
    >>> bool(np.linalg.norm(X - model.inverse_transform(W)) < 1e-3 * np.linalg.norm(X))
    True
    """

    #: scikit-learn estimator checks that cannot hold for this estimator, with the reason.
    expected_failed_checks = {
        "check_no_attributes_set_in_init": (
            "the solver's hyperparameters are keyword arguments (**hyperparameters) kept as attributes of "
            "the same names, so that get_params, set_params and clone carry them; the check only knows the "
            "named constructor arguments (it fails only for an estimator built with hyperparameters)"),
    }

    def __init__(self, n_components=2, *, solver="ebcd", init="tsvd", max_iter=1000, tol=None, tol_stall=None,
                 random_state=None, transform_max_iter=500, transform_tol=1e-10, **hyperparameters):
        self.n_components = n_components
        self.solver = solver
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.tol_stall = tol_stall
        self.random_state = random_state
        self.transform_max_iter = transform_max_iter
        self.transform_tol = transform_tol
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self._hyperparameter_names = tuple(hyperparameters)

    # ------------------------------------------------------------------ parameters

    def get_params(self, deep=True):
        """Parameters of this estimator, the solver's hyperparameters included."""
        params = super().get_params(deep=deep)
        params.update({name: getattr(self, name) for name in self._hyperparameter_names})
        return params

    def set_params(self, **params):
        """Set parameters; names that are not constructor arguments become solver hyperparameters."""
        own = set(self._get_param_names())
        for name in params:
            if name not in own and name not in self._hyperparameter_names:
                self._hyperparameter_names += (name,)
        for name in self._hyperparameter_names:
            if name in params:
                setattr(self, name, params.pop(name))
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.requires_fit = True
        return tags

    # ------------------------------------------------------------------ fitting

    def _check_solver(self):
        """Raise unless ``solver`` is a known solver of the model X ≈ max(0, W H)."""
        if get_solver(self.solver).family not in ESTIMATOR_FAMILIES:
            keys = ", ".join(k for k, s in SOLVERS.items() if s.family in ESTIMATOR_FAMILIES)
            raise HyperparameterError(f"solver {self.solver!r} does not fit X ≈ max(0, W H) with free W and H; "
                                      f"ReLUNMD takes one of: {keys}")

    def _validate(self, X, method, *, reset):
        """X as an array or sparse matrix with the features of ``fit``; negative entries are refused.

        NaN, infinite and all-zero data are left to nmdcore's own checks.
        """
        X = validate_data(self, X, accept_sparse=("csr", "csc", "coo"), dtype=(np.float64, np.float32),
                          ensure_all_finite=False, reset=reset)
        m, n = X.shape
        if reset and min(m, n) < 2:
            raise ShapeError(f"ReLUNMD.{method} needs at least 2 samples and 2 features (a rank r with "
                             f"1 <= r < min(n_samples, n_features)); got n_samples = {m}, n_features = {n}")
        negative = int(np.count_nonzero((X.data if sp.issparse(X) else X) < 0))
        if negative:
            raise NegativeEntriesError(f"Negative values in data passed to ReLUNMD.{method}: {negative} entries "
                                       "are negative; ReLU-NMD needs a nonnegative matrix")
        return X

    def fit(self, X, y=None):
        """Fit the model to X.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Nonnegative data.
        y : ignored

        Returns
        -------
        self
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit the model to X and return W.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Nonnegative data.
        y : ignored

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)

        Raises
        ------
        nmdcore.NMDError
            For a bad X (negative, NaN/inf, all zero), rank, solver or hyperparameter.
        """
        self._check_solver()
        X = self._validate(X, "fit", reset=True)
        hyper = {name: getattr(self, name) for name in self._hyperparameter_names}
        res = decompose(X, self.n_components, self.solver, init=self.init, max_iter=self.max_iter, tol=self.tol,
                        tol_stall=self.tol_stall, random_state=self.random_state, **hyper)
        W, H = res.factors["W"], res.factors["H"]
        self.components_ = H
        self.n_components_ = H.shape[0]
        self.n_iter_ = res.n_iter
        self.history_ = res.history
        self.stop_reason_ = res.stop_reason
        self.reconstruction_err_ = _relu_residual_norm(X, W @ H)
        return W

    # ------------------------------------------------------------------ using the fit

    def transform(self, X):
        """W for the samples X with H = ``components_`` held fixed.

        With H fixed, minimizing ½‖Z − W H‖_F² over W and over the Z that agree with X
        on its positive entries and are ≤ 0 elsewhere is the three-block model's
        problem in W alone. Eliminating Z leaves, row by row, the convex piecewise
        quadratic f(w) = ½ Σ_{x_j > 0} (x_j − (w H)_j)² + ½ Σ_{x_j = 0} max(0, (w H)_j)²,
        solved from w = x H⁺ by Newton steps on the set where f is quadratic (the
        positive entries and the zeros that w H overshoots): w = x H_Aᵀ (H_A H_Aᵀ)⁻¹.
        A row keeps its Newton step only if it lowers f; otherwise it takes the
        alternating step of BCD-NMD with H frozen (Z = X on the support, min(0, w H)
        off it, then w = z H⁺), which never increases f. The loop stops after
        ``transform_max_iter`` iterations or when f falls by less than
        ``transform_tol``·‖X‖_F².

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Nonnegative samples with the features seen in ``fit``.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = self._validate(X, "transform", reset=False)
        try:  # the same one-line errors as decompose; all-zero samples are fine here (W = 0)
            X = check_matrix(X)
        except ZeroMatrixError:
            X = np.zeros(X.shape, dtype=self.components_.dtype)
        return _codes_for_fixed_components(X, self.components_.astype(X.dtype, copy=False),
                                           self.transform_max_iter, self.transform_tol)

    def inverse_transform(self, X):
        """max(0, W H): the data the codes W stand for.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes W, e.g. from ``transform``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        W = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=self.components_.dtype)
        return np.maximum(0.0, W @ self.components_)


def _relu_residual_norm(X, theta):
    X = X.toarray() if sp.issparse(X) else X
    return float(np.linalg.norm(X - np.maximum(0.0, theta)))


def _codes_for_fixed_components(X, H, max_iter, tol):
    """argmin over W of ½‖Z − W H‖_F² with Z = X on X > 0 and Z ≤ 0 elsewhere (see ReLUNMD.transform)."""
    support = X > 0
    H_pinv = np.linalg.pinv(H)
    r = H.shape[0]
    ridge = np.eye(r, dtype=X.dtype) * (np.finfo(X.dtype).eps * float(np.sum(H * H)))

    def row_objectives(W):
        T = W @ H
        return 0.5 * np.sum(np.where(support, X - T, np.maximum(0.0, T)) ** 2, axis=1)

    W = X @ H_pinv
    f = row_objectives(W)
    stop = tol * float(np.sum(X * X))
    for _ in range(max_iter):
        T = W @ H
        active = (support | (T > 0)).astype(X.dtype)
        gram = np.einsum("ij,kj,lj->ikl", active, H, H) + ridge
        newton = np.linalg.solve(gram, (X @ H.T)[:, :, None])[:, :, 0]
        alternating = np.where(support, X, np.minimum(0.0, T)) @ H_pinv
        f_newton, f_alternating = row_objectives(newton), row_objectives(alternating)
        take_newton = f_newton <= f_alternating
        W_next = np.where(take_newton[:, None], newton, alternating)
        f_next = np.minimum(f_newton, f_alternating)
        better = f_next < f
        W = np.where(better[:, None], W_next, W)
        decrease = float(np.sum(f - np.where(better, f_next, f)))
        f = np.where(better, f_next, f)
        if decrease <= stop:
            break
    return W
