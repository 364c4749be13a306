"""Shared pieces of the benchmarks: environment, data, solver variants, common starts, result files."""
from __future__ import annotations

import csv
import datetime
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nmdcore
from nmdcore.synthetic import relu_lowrank

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMD_SHARED", REPO.parent / "shared"))
RESULTS = Path(__file__).resolve().parent / "results"

#: The MNIST-scale synthetic matrix: m×n, hidden rank, fraction of zeros, relative noise, seed.
SYNTHETIC_SHAPE = (50000, 784)
SYNTHETIC_RANK = 32
SYNTHETIC_ZEROS = 0.8
SYNTHETIC_NOISE = 0.05
SYNTHETIC_SEED = 6

DATASET_NAMES = ("synthetic", "mnist10k", "mnist5k")


def log(message: str) -> None:
    """Progress line on stderr (stdout stays free for a caller's own output)."""
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def environment() -> dict:
    """Versions, BLAS threading (threadpoolctl) and machine load, for the result files."""
    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nmdcore": nmdcore.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                       if k in os.environ},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import scipy
        env["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover - scipy is a dependency of nmdcore
        pass
    try:
        from threadpoolctl import threadpool_info
        env["threadpools"] = [{k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                                          "threading_layer", "architecture", "filepath")}
                              for info in threadpool_info()]
    except ImportError:
        env["threadpools"] = "threadpoolctl not installed"
    return env


class DatasetUnavailable(RuntimeError):
    """A benchmark dataset cannot be loaded here (the reason is the message)."""


@dataclass
class Dataset:
    """A benchmark matrix (float64, C order) and where it came from."""

    name: str
    X: np.ndarray
    source: str

    @property
    def zeros(self) -> float:
        return float(np.count_nonzero(self.X == 0)) / self.X.size

    def describe(self) -> dict:
        m, n = self.X.shape
        return {"data": self.name, "m": m, "n": n, "zeros": round(self.zeros, 4), "source": self.source}


def load_dataset(name: str, shape: tuple | None = None, max_rows: int | None = None) -> Dataset:
    """Load a benchmark matrix by name.

    Parameters
    ----------
    name : {"synthetic", "mnist10k", "mnist5k"}
        ``synthetic``: ``nmdcore.synthetic.relu_lowrank`` at MNIST scale (``shape``, default
        50000×784, hidden rank 32, ~80 % zeros, 5 % noise); ``mnist10k``: the shared
        MNIST test set (10000×784, /255); ``mnist5k``: ``nmdcore.datasets.load("mnist5k")``, images as rows.
    shape : (m, n) or None
        Size of the synthetic matrix.
    max_rows : int or None
        Keep only the first rows of a real dataset.

    Raises
    ------
    DatasetUnavailable
        When the data are not on this machine.
    """
    if name == "synthetic":
        m, n = shape or SYNTHETIC_SHAPE
        X = relu_lowrank(m, n, min(SYNTHETIC_RANK, m, n), noise=SYNTHETIC_NOISE, sparsity=SYNTHETIC_ZEROS,
                         random_state=SYNTHETIC_SEED)
        source = (f"nmdcore.synthetic.relu_lowrank({m}, {n}, {min(SYNTHETIC_RANK, m, n)}, noise={SYNTHETIC_NOISE}, "
                  f"sparsity={SYNTHETIC_ZEROS}, random_state={SYNTHETIC_SEED})")
    elif name == "mnist10k":
        path = SHARED / "datasets" / "mnist_test_10k.npz"
        if not path.exists():
            raise DatasetUnavailable(f"{path} is absent")
        with np.load(path) as d:
            X = d["X"].astype(np.float64) / 255.0
        source = f"{path} (images as rows, /255)"
    elif name == "mnist5k":
        try:
            from nmdcore import datasets
        except ImportError:
            raise DatasetUnavailable("nmdcore.datasets is not available") from None
        try:
            loaded = datasets.load("mnist5k")
        except Exception as exc:  # the catalogue's own errors: absent file, unknown name
            raise DatasetUnavailable(f"nmdcore.datasets.load('mnist5k') failed: {exc}") from None
        X = np.asarray(loaded.X.toarray() if hasattr(loaded.X, "toarray") else loaded.X, dtype=np.float64)
        source = "nmdcore.datasets.load('mnist5k')"
        if getattr(loaded, "image_shape", None) is not None:  # the catalogue stores images as columns
            X = X.T
            source += ".X.T (images as rows, like the 50000×784 layout)"
    else:
        raise DatasetUnavailable(f"unknown dataset {name!r} (known: {', '.join(DATASET_NAMES)})")
    if max_rows is not None and name != "synthetic" and X.shape[0] > max_rows:
        X = X[:max_rows]
        source += f", first {max_rows} rows"
    return Dataset(name, np.ascontiguousarray(X), source)


@dataclass(frozen=True)
class Variant:
    """One solver configuration to benchmark: a spec and fixed hyperparameters."""

    spec: object
    params: tuple = ()

    @property
    def label(self) -> str:
        if not self.params:
            return self.spec.key
        return f"{self.spec.key}[{','.join(str(v) for _, v in self.params)}]"

    @property
    def hyperparams(self) -> dict:
        return dict(self.params)


def solver_variants(keys=None) -> list[Variant]:
    """Iterative, rectangular-input solvers of the registry; one variant per TSVD option of latent ones.

    ``keys`` (solver keys or variant labels such as ``"a_nmd[randomized]"``) restricts the list.
    """
    out = []
    for spec in nmdcore.SOLVERS.values():
        if not spec.iterative or spec.input_kind == "symmetric":
            continue
        choice = next((h for h in spec.hyperparameters if h.name == "tsvd" and h.kind == "choice"), None)
        variants = [Variant(spec, (("tsvd", c),)) for c in choice.choices] if choice else [Variant(spec)]
        out += [v for v in variants if keys is None or v.spec.key in keys or v.label in keys]
    return out


def _start_factors(X: np.ndarray, r: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """nmdcore's ``init=kind`` start (W0, H0) at rank r, through the public API: the factors of
    a BCD-NMD run stopped before its first iteration (``tsvd``: U_r, Σ_r V_rᵀ; ``random``: the
    papers' rescaled Gaussian factors drawn from ``random_state=seed``)."""
    res = nmdcore.decompose(X, r, solver="bcd", init=kind, max_iter=0, random_state=seed)
    return res.factors["W"], res.factors["H"]


class Starts:
    """The same starting point for every solver: ``(W0, H0)`` of a dataset, per rank.

    ``kind="tsvd"`` uses ``W0 = U_r``, ``H0 = Σ_r V_rᵀ`` (one Gram eigendecomposition at the largest
    rank, sliced); ``kind="random"`` the papers' rescaled Gaussian factors (seeded per rank).
    Each solver gets them under the names of its spec: ``W``/``H``, ``theta = W0 H0``, or
    ``U = W0``/``V = H0ᵀ``.
    """

    def __init__(self, X: np.ndarray, ranks, kind: str = "tsvd", seed: int = 0):
        self.X, self.kind, self.seed = X, kind, seed
        self._tsvd = None
        if kind == "tsvd":
            self._tsvd = _start_factors(X, max(ranks), "tsvd", seed)
        elif kind != "random":
            raise ValueError(f"start must be 'tsvd' or 'random', got {kind!r}")
        self._theta = {}

    def factors(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        if self._tsvd is not None:
            W, H = self._tsvd
            return np.ascontiguousarray(W[:, :r]), np.ascontiguousarray(H[:r])
        return _start_factors(self.X, r, "random", self.seed + r)

    def for_solver(self, spec, r: int, dtype) -> dict | None:
        """The explicit ``init`` mapping for ``spec`` (None if its start names are not known here)."""
        names = set(spec.start_names)
        W, H = self.factors(r)
        if {"W", "H"} <= names:
            return {"W": W, "H": H}
        if "theta" in names:
            key = (r, np.dtype(dtype).str)
            if key not in self._theta:
                self._theta = {key: (W @ H).astype(dtype)}  # one m×n start kept at a time
            return {"theta": self._theta[key]}
        if {"U", "V"} <= names:
            return {"U": W, "V": np.ascontiguousarray(H.T)}
        return None


def iteration_times(history: dict, warmup: int = 1) -> np.ndarray:
    """Seconds of each iteration after the first ``warmup`` ones.

    The first iteration carries one-off costs (kernel loading, buffers, the pool's threads);
    the next one or two still run on caches and page mappings that are settling.
    """
    return np.diff(np.asarray(history["time"]))[warmup:]


def finite_or_none(value):
    """JSON has no NaN/inf: map them to None."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def merge_records(path: Path, records: list, key_fields: tuple, env: dict) -> list:
    """Add ``records`` to the JSON file at ``path``, replacing older ones with the same key.

    The file holds ``{"runs": {run_id: environment}, "records": [...]}``; chunked runs of the
    full sweep (by solver, rank, dtype) therefore accumulate into one table.
    """
    data = {"runs": {}, "records": []}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            log(f"{path} is unreadable; starting a new file")
    new_keys = {tuple(r.get(k) for k in key_fields) for r in records}
    kept = [r for r in data.get("records", []) if tuple(r.get(k) for k in key_fields) not in new_keys]
    merged = kept + records
    runs = {rid: e for rid, e in data.get("runs", {}).items() if any(r.get("run_id") == rid for r in merged)}
    if records:
        runs[records[0]["run_id"]] = env
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": runs, "records": merged}, indent=1, allow_nan=False))
    return merged


def write_csv(path: Path, rows: list, fields: tuple) -> None:
    """Write ``rows`` (dicts) with the given columns; missing values stay empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})


def each_configuration(datasets, ranks, dtypes, variants, *, start, records, **fields):
    """Yield ``(X, r, variant, init, rec)`` for every dataset × dtype × rank × variant.

    ``rec`` is a fresh record (dataset, dtype, rank, variant, ``fields``) already appended to
    ``records``; ``init`` is the common start in the names of the variant's spec (None if unknown,
    then the record says so and the caller should skip). Ranks a dataset cannot take are left out.
    """
    for ds in datasets:
        m, n = ds.X.shape
        usable = [r for r in ranks if r < min(m, n)]
        if not usable:
            continue
        starts = Starts(ds.X, usable, start)
        for dtype in dtypes:
            X = ds.X.astype(dtype)
            for r in usable:
                for variant in variants:
                    rec = {**ds.describe(), "dtype": np.dtype(dtype).name, "rank": r, "variant": variant.label,
                           "solver": variant.spec.key, "family": variant.spec.family, "start": start, **fields}
                    records.append(rec)
                    init = starts.for_solver(variant.spec, r, dtype)
                    if init is None:
                        rec["status"] = "skipped: start names not known to the harness"
                    yield X, r, variant, init, rec
            del X


def call_solver(X, r, variant, init, rec, part, **options):
    """``nmdcore.decompose`` with ``tol = tol_stall = 0`` and ``random_state=0``; None on error.

    An exception (a solver under construction) is written to ``rec["status"]`` and logged, so
    one failing solver does not end a sweep.
    """
    try:
        return nmdcore.decompose(X, r, variant.spec.key, init=init, tol=0, tol_stall=0, random_state=0,
                                 dtype=X.dtype, **options, **variant.hyperparams)
    except Exception as exc:
        rec["status"] = f"error: {type(exc).__name__}: {exc}"
        log(f"{part} {rec['data']} {rec['dtype']} r={r} {variant.label}: {rec['status']}")
        return None
