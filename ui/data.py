"""Datasets for the pages: catalogue, cached loading, uploads, content keys, memory checks."""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import streamlit as st

import nmdcore

#: Preferred default datasets, best first: offline, image-like, quick to solve.
DEFAULT_DATASETS = ("mnist5k", "mnist_5k", "orl_faces_32x32", "orl32", "orl")

#: m×n arrays a solver keeps alive at once, by family then key.
ARRAYS_PER_SOLVER = {
    "tsvd": 2, "naive": 3, "a_nmd": 6, "em": 4, "a_em": 5, "bcd": 3, "ebcd": 6,
    "nmd_3b": 5, "nmd_tm": 5, "cd": 3, "gd": 3, "nsmd_apb": 3, "nsmd_aapb": 3,
    "sym_anls": 1, "sym_hals": 1,
}
#: Extra m×n arrays the app holds besides the solver (data, TSVD baseline, Θ, display).
APP_ARRAYS = 3
#: Byte budget of one run unless NMD_APP_MEMORY_MB says otherwise.
DEFAULT_BUDGET_MB = 4096


@dataclass(frozen=True)
class Data:
    """A matrix ready for the pages.

    Attributes
    ----------
    X : ndarray
        m×n float matrix (images as columns when ``image_shape`` is set); read-only.
    key : str
        SHA-256 of the bytes, shape and dtype of ``X``: the cache key of everything
        computed from it.
    name, title : str
    image_shape : tuple or None
    labels : ndarray or None
    skipped : tuple
        ``(item, reason)`` pairs that an upload could not use.
    """

    X: np.ndarray
    key: str
    name: str
    title: str
    image_shape: tuple | None = None
    labels: np.ndarray | None = None
    skipped: tuple = ()
    from_catalogue: bool = False
    kind: str = ""

    @property
    def is_images(self) -> bool:
        return self.image_shape is not None and int(np.prod(self.image_shape)) == self.X.shape[0]


def content_key(X: np.ndarray) -> str:
    """SHA-256 of every byte of ``X`` plus its shape and dtype (never a sample of it)."""
    a = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{a.shape}|{a.dtype.str}|".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def bytes_key(files) -> str:
    """SHA-256 of uploaded files: names and contents, in order."""
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _datasets_module():
    try:
        from nmdcore import datasets
    except ImportError:
        return None
    return datasets if hasattr(datasets, "available") and hasattr(datasets, "load") else None


def datasets_ready() -> bool:
    """True when :mod:`nmdcore.datasets` is part of the engine."""
    return _datasets_module() is not None


@st.cache_data(show_spinner=False)
def catalogue() -> list[dict]:
    """The dataset catalogue as plain dicts (name, title, description, offline, kind)."""
    module = _datasets_module()
    if module is None:
        return []
    out = []
    for entry in module.available():
        out.append({k: getattr(entry, k, None) if not isinstance(entry, dict) else entry.get(k)
                    for k in ("name", "title", "description", "offline", "kind")})
    return out


def default_dataset_name(entries: list[dict]) -> str | None:
    """The first available of :data:`DEFAULT_DATASETS`, else the first offline entry."""
    names = [e["name"] for e in entries]
    for name in DEFAULT_DATASETS:
        if name in names:
            return name
    offline = [e["name"] for e in entries if e.get("offline")]
    return (offline or names or [None])[0]


def _as_data(ds, title: str, from_catalogue: bool = False) -> Data:
    X = ds.X
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X.setflags(write=False)
    shape = getattr(ds, "image_shape", None)
    return Data(X=X, key=content_key(X), name=getattr(ds, "name", title), title=title,
                image_shape=tuple(int(s) for s in shape) if shape is not None else None,
                labels=getattr(ds, "labels", None),
                skipped=tuple(getattr(ds, "skipped", ()) or ()), from_catalogue=from_catalogue,
                kind=str(getattr(ds, "kind", "") or ""))


@st.cache_resource(show_spinner="Loading dataset…", max_entries=6)
def load_named(name: str, **options) -> Data:
    """Load catalogue entry ``name`` once per server (shared, read-only).

    Raises
    ------
    nmdcore.DatasetError
        When the entry cannot be loaded (e.g. a download while offline).
    """
    module = _datasets_module()
    if module is None:
        raise nmdcore.DatasetError("the dataset catalogue (nmdcore.datasets) is not part of the engine yet")
    titles = {e["name"]: e["title"] for e in catalogue()}
    return _as_data(module.load(name, **options), titles.get(name) or name, from_catalogue=True)


#: Server memory for uploaded matrices, all sessions together, unless NMD_APP_UPLOADS_MB says
#: otherwise; each session keeps only its latest upload, released when the session ends or uploads again.
UPLOAD_MEMORY_TOTAL_MB = 1024


def upload_budget_mb() -> float:
    """NMD_APP_UPLOADS_MB when it is a positive number, else :data:`UPLOAD_MEMORY_TOTAL_MB`."""
    try:
        value = float(os.environ.get("NMD_APP_UPLOADS_MB", ""))
    except ValueError:
        return UPLOAD_MEMORY_TOTAL_MB
    return value if 0 < value < float("inf") else UPLOAD_MEMORY_TOTAL_MB


def _megabytes(n: float) -> str:
    mb = n / 2**20
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


class _UploadLedger:
    """Bytes of the uploaded matrices the sessions hold, against :func:`upload_budget_mb`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}

    def reserve(self, data: "Data") -> None:
        need, limit = data.X.nbytes, upload_budget_mb()
        with self._lock:
            held = sum(self._held.values())
            if held + need > limit * 2**20:
                raise nmdcore.DatasetError(
                    f"the server holds {_megabytes(held)} of uploads and this one needs {_megabytes(need)} more "
                    f"(limit {_megabytes(limit * 2**20)} for all sessions); try again later")
            self._held[id(data)] = need

    def release(self, data) -> None:
        with self._lock:
            self._held.pop(id(data), None)

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(self._held.values())


UPLOADS = _UploadLedger()


@dataclass(frozen=True)
class _Refusal:
    """A failed upload, cached like a success so that reruns do not read the files again."""

    kind: type
    message: str

    @classmethod
    def of(cls, exc: Exception) -> "_Refusal":
        return cls(type(exc), str(exc))


def _release_upload(entry) -> None:
    """Streamlit calls this when a session's cached upload goes: replaced, or the session ended."""
    if isinstance(entry, Data):
        UPLOADS.release(entry)


@st.cache_resource(show_spinner="Reading your files…", scope="session", max_entries=1, on_release=_release_upload)
def _load_files(key: str, repair: str | None, _files: tuple) -> "Data | _Refusal":
    module = _datasets_module()
    if module is None:
        return _Refusal(nmdcore.DatasetError, "uploads need nmdcore.datasets, which is not part of the engine yet")
    try:
        ds = module.from_files(list(_files), repair=repair)
    except nmdcore.NMDError as exc:
        return _Refusal.of(exc)
    names = ", ".join(n for n, _ in _files[:3]) + (" …" if len(_files) > 3 else "")
    data = _as_data(ds, f"Upload: {names}")
    UPLOADS.reserve(data)  # raises (not cached, so a later rerun may succeed) while the sessions hold too much
    return data


def load_files(files, repair: str | None = None) -> Data:
    """Turn uploaded ``(filename, bytes)`` pairs into :class:`Data`, cached per session by content.

    A session keeps its latest upload only, failed ones included (a rerun does not read the
    files again to fail again); uploads of all sessions together stay under
    :func:`upload_budget_mb`.

    Raises
    ------
    nmdcore.NMDError
        When the files cannot be used or the server holds too many uploads.
    """
    files = tuple((str(name), bytes(data)) for name, data in files)
    out = _load_files(bytes_key(files), repair, files)
    if isinstance(out, _Refusal):
        raise out.kind(out.message)
    return out


def from_array(X: np.ndarray, name: str, title: str, image_shape=None) -> Data:
    """Wrap an in-memory matrix (e.g. a synthetic one) as :class:`Data`."""
    X = np.array(X, dtype=np.float64 if np.asarray(X).dtype != np.float32 else np.float32)
    X.setflags(write=False)
    return Data(X=X, key=content_key(X), name=name, title=title,
                image_shape=tuple(image_shape) if image_shape is not None else None)


# ------------------------------------------------------------------ memory


def memory_budget_bytes() -> int:
    """Bytes one run may use: NMD_APP_MEMORY_MB, else min(4 GiB, half the available memory)."""
    env = os.environ.get("NMD_APP_MEMORY_MB")
    if env:
        return int(float(env) * 2**20)
    budget = DEFAULT_BUDGET_MB * 2**20
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    budget = min(budget, int(line.split()[1]) * 1024 // 2)
                    break
    except OSError:
        pass
    return budget


def estimate_bytes(shape, solver: str, itemsize: int = 8, rank: int = 0) -> int:
    """Peak memory of one run: the solver's m×n arrays plus the app's, plus factors."""
    m, n = shape
    arrays = ARRAYS_PER_SOLVER.get(solver, 6) + APP_ARRAYS
    # the latent solvers also hold the p×p Gram matrix of their TSVD
    p = min(m, n) if solver in ("naive", "a_nmd", "em", "a_em") else 0
    return int(itemsize * (arrays * m * n + p * p + 4 * (m + n) * max(rank, 1)))


def memory_refusal(shape, solver: str, itemsize: int = 8, rank: int = 0) -> str | None:
    """One-line refusal when a run would exceed the budget, else None."""
    need, budget = estimate_bytes(shape, solver, itemsize, rank), memory_budget_bytes()
    if need <= budget:
        return None
    return (f"Refused: {shape[0]}×{shape[1]} with {solver} needs about {need / 2**20:,.0f} MB, "
            f"more than this server allows ({budget / 2**20:,.0f} MB). Pick a smaller dataset or subset.")


# ------------------------------------------------------------------ result store


@st.cache_resource
def _result_store() -> "OrderedDict[tuple, object]":
    return OrderedDict()


#: Finished results kept per server (LRU); each holds an m×n Θ.
RESULT_STORE_ENTRIES = 12


def stored_result(key: tuple):
    """A finished result computed earlier for exactly this content key and settings."""
    store = _result_store()
    if key in store:
        store.move_to_end(key)
        return store[key]
    return None


def store_result(key: tuple, result) -> None:
    """Keep a finished (not stopped) result for reuse by any session."""
    store = _result_store()
    store[key] = result
    store.move_to_end(key)
    while len(store) > RESULT_STORE_ENTRIES:
        store.popitem(last=False)
