"""Datasets for the pages: catalogue, cached loading, uploads, content keys, memory checks."""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import threading
from collections import OrderedDict

import numpy as np
import streamlit as st

import nmdcore
from nmdcore import datasets
from nmdcore.datasets import Dataset

#: Preferred default datasets, best first: offline, image-like, quick to solve.
DEFAULT_DATASETS = ("mnist5k", "mnist_5k", "orl_faces_32x32", "orl32", "orl")

#: m×n arrays the app holds besides a run: the data, the TSVD baseline's Θ, the Θ on display.
APP_ARRAYS = 3
#: Byte budget of one run unless NMD_APP_MEMORY_MB says otherwise (and at most half the free memory).
DEFAULT_BUDGET_MB = 4096


@dataclasses.dataclass(frozen=True)
class Data:
    """A :class:`nmdcore.datasets.Dataset` ready for the pages: dense, read-only, with a content key.

    Attributes
    ----------
    dataset : nmdcore.datasets.Dataset
        What the catalogue or the upload returned (name, title, kind, image shape, labels,
        skipped files, source, ...); the properties below read it.
    X : ndarray
        m×n float matrix (images as columns when ``image_shape`` is set); read-only.
    key : str
        SHA-256 of the bytes, shape and dtype of ``X``: the cache key of everything
        computed from it.
    from_catalogue : bool
        True for a catalogue entry (the Python snippet can then load it by name).
    """

    dataset: Dataset
    X: np.ndarray
    key: str
    from_catalogue: bool = False

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def title(self) -> str:
        return self.dataset.title or self.dataset.name

    @property
    def image_shape(self) -> tuple | None:
        shape = self.dataset.image_shape
        return None if shape is None else tuple(int(s) for s in shape)

    @property
    def labels(self) -> np.ndarray | None:
        return self.dataset.labels

    @property
    def skipped(self) -> tuple:
        return tuple(self.dataset.skipped or ())

    @property
    def kind(self) -> str:
        return self.dataset.kind

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


@st.cache_data(show_spinner=False)
def catalogue() -> list[dict]:
    """The dataset catalogue as plain dicts (name, title, description, offline, kind)."""
    return [{k: getattr(entry, k, None) for k in ("name", "title", "description", "offline", "kind")}
            for entry in datasets.available()]


def default_dataset_name(entries: list[dict]) -> str | None:
    """The first available of :data:`DEFAULT_DATASETS`, else the first offline entry."""
    names = [e["name"] for e in entries]
    for name in DEFAULT_DATASETS:
        if name in names:
            return name
    offline = [e["name"] for e in entries if e.get("offline")]
    return (offline or names or [None])[0]


def _as_data(ds: Dataset, title: str | None = None, from_catalogue: bool = False) -> Data:
    X = ds.X.toarray() if hasattr(ds.X, "toarray") else ds.X
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X.setflags(write=False)
    if title:
        ds = dataclasses.replace(ds, title=title)
    return Data(dataset=ds, X=X, key=content_key(X), from_catalogue=from_catalogue)


@st.cache_resource(show_spinner="Loading dataset…", max_entries=6)
def load_named(name: str, **options) -> Data:
    """Load catalogue entry ``name`` once per server (shared, read-only).

    Raises
    ------
    nmdcore.DatasetError
        When the entry cannot be loaded (e.g. a download while offline).
    """
    titles = {e["name"]: e["title"] for e in catalogue()}
    return _as_data(datasets.load(name, **options), titles.get(name) or name, from_catalogue=True)


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


@dataclasses.dataclass(frozen=True)
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
    try:
        ds = datasets.from_files(list(_files), repair=repair)
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


def from_array(X: np.ndarray, name: str, title: str, image_shape=None, kind: str = "sparse_matrix") -> Data:
    """Wrap an in-memory matrix (e.g. a synthetic one) as :class:`Data`."""
    X = np.array(X, dtype=np.float64 if np.asarray(X).dtype != np.float32 else np.float32)
    return _as_data(Dataset(X=X, name=name, title=title, kind=kind,
                            image_shape=tuple(image_shape) if image_shape is not None else None))


# ------------------------------------------------------------------ memory


def memory_budget() -> tuple[int, str | None]:
    """Bytes one run may use, and a one-line note when NMD_APP_MEMORY_MB could not be used.

    NMD_APP_MEMORY_MB (a positive number of megabytes) when set, else the smaller of
    :data:`DEFAULT_BUDGET_MB` and half the memory available (:func:`nmdcore.available_memory`).
    """
    default = DEFAULT_BUDGET_MB * 2**20
    available = nmdcore.available_memory()
    if available is not None:
        default = min(default, available // 2)
    env = os.environ.get("NMD_APP_MEMORY_MB", "").strip()
    if not env:
        return default, None
    try:
        megabytes = float(env)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        return default, (f"NMD_APP_MEMORY_MB={env!r} is not a positive number of megabytes; "
                         f"using the default budget of {default / 2**20:,.0f} MB.")
    return int(megabytes * 2**20), None


def estimate_bytes(X: np.ndarray, solver: str, rank: int) -> int:
    """Peak memory of one run in the app: the engine's estimate plus the app's own m×n arrays."""
    return nmdcore.estimate_memory(X.shape, rank, solver, X.dtype) + APP_ARRAYS * X.size * X.dtype.itemsize


def memory_refusal(X: np.ndarray, solvers, rank: int) -> str | None:
    """One-line refusal when the most demanding of ``solvers`` would exceed the budget, else None.

    The message names that solver and its own estimate. With a bad NMD_APP_MEMORY_MB the default
    budget applies (every page says so in its sidebar, see :func:`ui.layout.page`).
    """
    budget, _ = memory_budget()
    need, solver = max((estimate_bytes(X, key, rank), key) for key in solvers)
    if need <= budget:
        return None
    m, n = X.shape
    return (f"Refused: {m}×{n} with {nmdcore.SOLVERS[solver].label} at r = {rank} needs about "
            f"{need / 2**20:,.0f} MB, more than this server allows ({budget / 2**20:,.0f} MB). "
            "Pick a smaller dataset or subset.")


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
