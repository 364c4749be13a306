"""Hostile and extreme input: one table of bad inputs, through the library and through the app.

Every row names the input, the route (the library's public functions, or the app under
AppTest) and what must come back: a specific NMDError subclass with a one-line message that
contains a given fragment, or (for inputs that are now handled) a finite result. Rows that are
more than an error (bounded work, cached refusals, escaping, repairs) have their own tests below.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from PIL import Image
from streamlit.testing.v1 import AppTest

import nmdcore
from nmdcore import (
    DatasetError,
    HyperparameterError,
    InitError,
    NegativeEntriesError,
    NonFiniteError,
    NotSymmetricError,
    RankError,
    ShapeError,
    UnknownSolverError,
    ZeroMatrixError,
)
from benchmarks.bench_uploads import lying_zip
from nmdcore.datasets import from_files
from tests.helpers import finish_runs, npy_bytes, open_page, page_run, zip_bytes

# --------------------------------------------------------------------------- inputs

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
       b"newpath 0 0 moveto 8 8 lineto stroke showpage\n%%EOF\n")
MARKDOWN_IMAGE = "![x](https://example.invalid/t.png)"


def png(shape=(6, 5), seed=0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def encoded(fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(30, dtype=np.uint8).reshape(6, 5)).convert("RGB").save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def npy_declaring(shape) -> bytes:
    """A .npy header that declares ``shape`` with no data behind it."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)  # the magic string, then the header
    return buf.getvalue()


def sparse_npz_declaring(shape) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, format=np.array("csr"), shape=np.array(shape, dtype=np.int64), data=np.ones(1),
             indices=np.zeros(1, dtype=np.int32), indptr=np.array([0, 1], dtype=np.int32))
    return buf.getvalue()


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def png_bomb(width=40000, height=40000) -> bytes:
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def csv(text: str) -> bytes:
    return text.encode()


# --------------------------------------------------------------------------- the table: uploads

#: (id, files, options, error class, fragment of the message)
UPLOADS = [
    ("eps-named-png", [("evil.png", EPS)], {}, DatasetError, "PostScript/EPS"),
    ("eps-in-zip", [("a.zip", zip_bytes({"in/evil.png": EPS}))], {}, DatasetError, "PostScript/EPS"),
    ("pdf-named-jpg", [("doc.jpg", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n")], {}, DatasetError, "PDF"),
    ("webp-named-png", [("w.png", encoded("WEBP"))], {}, DatasetError, "WebP"),
    ("ico-named-png", [("i.png", encoded("ICO"))], {}, DatasetError, "Windows ICO/CUR"),
    ("psd-named-tif", [("p.tif", b"8BPS\x00\x01" + bytes(40))], {}, DatasetError, "Photoshop PSD"),
    ("svg-named-png", [("s.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')], {},
     DatasetError, "SVG"),
    ("tga-named-png", [("t.png", encoded("TGA"))], {}, DatasetError, "Truevision TGA"),
    ("unknown-bytes-named-png", [("u.png", b"\x13\x37" * 40)], {}, DatasetError, "not an image that can be read"),
    ("lying-zip-member", [("l.zip", lying_zip(8 * 2**20, 10))], {}, DatasetError, "declared size of 10 bytes"),
    ("zip-ratio-over-limit", [("r.zip", lying_zip(2**20, 400 * 2**20))], {}, DatasetError, "1100:1"),
    ("zip-member-too-big", [("b.zip", zip_bytes({"big.npy": bytes(2000)}))], {"max_bytes": 1000},
     DatasetError, "over the limit"),
    ("zip-backslash-name", [("w.zip", zip_bytes({"..\\..\\win.png": png()}))], {}, DatasetError, "backslashes"),
    ("zip-dotdot-name", [("d.zip", zip_bytes({"../up.png": png()}))], {}, DatasetError, "climbs out"),
    ("zip-absolute-name", [("a.zip", zip_bytes({"/etc/abs.png": png()}))], {}, DatasetError, "absolute path"),
    ("zip-in-zip", [("n.zip", zip_bytes({"inner.zip": zip_bytes({"a.png": png()})}))], {}, DatasetError,
     "archives inside archives"),
    ("corrupt-zip", [("c.zip", b"PK\x03\x04 not really a zip")], {}, DatasetError, "corrupt zip archive"),
    ("empty-image", [("e.png", b"")], {}, DatasetError, "0 bytes"),
    ("truncated-png", [("t.png", png((60, 50))[:-30])], {}, DatasetError, "truncated"),
    ("garbage-jpg", [("g.jpg", b"\x00garbage" * 10)], {}, DatasetError, "not an image"),
    ("decompression-bomb", [("bomb.png", png_bomb())], {}, DatasetError, "bomb"),
    ("unsupported-extension", [("notes.docx", zip_bytes({"word/document.xml": b"<w/>"}))], {}, DatasetError,
     "unsupported file type .docx"),
    ("markdown-member-name", [("m.zip", zip_bytes({f"{MARKDOWN_IMAGE}.png": EPS}))], {}, DatasetError,
     MARKDOWN_IMAGE),
    ("csv-decimal-comma", [("d.csv", csv("1,5;2,5\n3,5;0,0\n"))], {}, DatasetError, "decimal commas"),
    ("csv-decimal-comma-after-header", [("d.csv", csv("x;y\n1,5;2,5\n3,5;0\n"))], {}, DatasetError,
     "decimal commas ('1,5' at row 2)"),
    ("csv-decimal-comma-tabs", [("d.txt", csv("0,5\t1,25\n2,5\t0\n"))], {}, DatasetError, "decimal commas"),
    ("csv-text-cell", [("t.csv", csv("1,2,3\n4,5,oops\n"))], {}, DatasetError, "row 2, column 3"),
    ("csv-markdown-cell", [("m.csv", csv(f"1,2\n3,{MARKDOWN_IMAGE}\n"))], {}, DatasetError, "row 2, column 2"),
    ("csv-nan", [("n.csv", csv("1,2\nnan,4\n"))], {}, NonFiniteError, "row 2, column 1"),
    ("csv-inf", [("i.csv", csv("1,inf\n3,4\n"))], {}, NonFiniteError, "row 1, column 2"),
    ("csv-ragged", [("r.csv", csv("1,2,3\n4,5\n"))], {}, ShapeError, "row 2 has 2 values, expected 3"),
    ("csv-not-utf8", [("u.csv", b"1,2\n\xff\xfe,3\n")], {}, DatasetError, "not UTF-8"),
    ("csv-header-only", [("h.csv", csv("a,b,c\n"))], {}, ShapeError, "holds no numbers"),
    ("csv-negative", [("n.csv", csv("1,-2\n3,4\n"))], {}, NegativeEntriesError, "1 negative entries"),
    ("csv-all-zero", [("z.csv", csv("0,0\n0,0\n"))], {}, ZeroMatrixError, "all zero"),
    ("csv-constant", [("c.csv", csv("2,2\n2,2\n"))], {}, ZeroMatrixError, "constant"),
    ("csv-single-row", [("s.csv", csv("1,2,3\n"))], {}, ShapeError, "single row or column"),
    ("csv-over-entry-limit", [("l.csv", csv("1,2\n3,4\n5,6\n"))], {"max_entries": 4}, ShapeError,
     "more than 4 entries"),
    ("npy-pickle", [("p.npy", npy_bytes(np.array([{"a": 1}], dtype=object)))], {}, DatasetError, "no pickle"),
    ("npy-declares-huge-shape", [("h.npy", npy_declaring((200000, 20000)))], {}, ShapeError,
     "200000x20000"),
    ("npz-sparse-declares-huge-shape", [("h.npz", sparse_npz_declaring((200000, 20000)))], {}, ShapeError,
     "200000x20000"),
    ("npy-3d", [("c.npy", npy_bytes(np.ones((2, 2, 2))))], {}, ShapeError, "2-D"),
    ("npy-complex", [("c.npy", npy_bytes(np.ones((2, 2), dtype=complex)))], {}, ShapeError, "not real numbers"),
    ("npy-nan", [("n.npy", npy_bytes(np.array([[1.0, np.nan], [0.0, 2.0]])))], {}, NonFiniteError, "NaN"),
    ("npy-strings", [("s.npy", npy_bytes(np.array([["a", "b"], ["c", "d"]])))], {}, ShapeError, "not real numbers"),
    ("npz-several-arrays", [("s.npz", npz(a=np.eye(2), b=np.eye(2)))], {}, ShapeError, "name the matrix 'X'"),
    ("npz-dia-sparse", [("d.npz", (lambda b: (sp.save_npz(b, sp.dia_matrix(np.eye(3))), b.getvalue())[1])(
        io.BytesIO()))], {}, DatasetError, "scipy sparse dia"),
    ("mtx-no-banner", [("m.mtx", b"3 3 1\n1 1 1\n")], {}, DatasetError, "no '%%MatrixMarket matrix' banner"),
    ("mtx-complex", [("m.mtx", b"%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1 0\n")], {},
     ShapeError, "complex"),
    ("mtx-index-out-of-range", [("m.mtx", b"%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n")],
     {}, DatasetError, "outside 1..2 x 1..2"),
    ("mtx-declares-huge", [("m.mtx", b"%%MatrixMarket matrix coordinate real general\n200000 20000 0\n")], {},
     ShapeError, "200000x20000"),
    ("files-not-pairs", ["just a name"], {}, DatasetError, "(filename, bytes) pairs"),
    ("no-files", [], {}, DatasetError, "no files"),
    ("bad-repair", [("a.png", png())], {"repair": "drop"}, DatasetError, "repair must be one of"),
    ("bad-dtype", [("a.png", png())], {"dtype": np.int32}, DatasetError, "float32 or float64"),
    ("bad-image-shape", [("a.png", png())], {"image_shape": (0, 3)}, DatasetError, "image_shape must be positive"),
    ("bad-limit", [("a.png", png())], {"max_files": 0}, DatasetError, "max_files must be a positive integer"),
]


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("files, options, error, fragment",
                         [pytest.param(f, o, e, t, id=i) for i, f, o, e, t in UPLOADS])
def test_upload_table_library(files, options, error, fragment):
    with pytest.raises(error) as info:
        from_files(files, **options)
    message = str(info.value)
    assert type(info.value) is error and one_line(message), message
    assert fragment in message
    assert "np.int64" not in message and "np.float64" not in message


# --------------------------------------------------------------------------- the table: decompose

RNG = np.random.default_rng(0)
X = np.maximum(0, RNG.standard_normal((20, 3)) @ RNG.standard_normal((3, 15)))
SYM = X @ X.T

#: (id, arguments of decompose, error class or None for "finite result", fragment)
DECOMPOSE = [
    ("entries-1e-300", dict(X=X * 1e-300, rank=3, solver="ebcd"), None, ""),
    ("entries-1e300", dict(X=X * 1e300, rank=3, solver="ebcd"), None, ""),
    ("entries-1e-300-em", dict(X=X * 1e-300, rank=3, solver="em"), None, ""),
    ("entries-1e300-tsvd", dict(X=X * 1e300, rank=3, solver="tsvd"), None, ""),
    ("entries-1e-300-symmetric", dict(X=SYM * 1e-300, rank=3, solver="nsmd_apb"), None, ""),
    ("float32-near-max", dict(X=(X * (3e38 / X.max())).astype(np.float32), rank=3, solver="a_nmd"), None, ""),
    ("float32-tiny", dict(X=(X * 1e-36).astype(np.float32), rank=3, solver="nmd_3b"), None, ""),
    ("huge-start", dict(X=X, rank=3, solver="bcd", init={"W": np.full((20, 3), 1e200), "H": np.full((3, 15), 1e200)}),
     InitError, "which overflows float64"),
    ("large-start", dict(X=X, rank=3, solver="ebcd", init={"W": np.full((20, 3), 1e155), "H": np.full((3, 15), 1)}),
     InitError, "start 'W' and 'H' would make Θ with entries up to 3e+155"),
    ("huge-symmetric-start", dict(X=SYM, rank=3, solver="nsmd_apb", init={"U": np.full((20, 3), 1e100)}), InitError,
     "start 'U' would make Θ"),
    ("huge-float32-start", dict(X=X.astype(np.float32), rank=3, solver="nmd_3b",
                                init={"W": np.full((20, 3), 1e10), "H": np.full((3, 15), 1e10)}), InitError,
     "overflows float32"),
    ("beyond-float32-range", dict(X=X * 1e300, rank=3, dtype=np.float32), NonFiniteError,
     "beyond the float32 range"),
    ("tol-nan", dict(X=X, rank=3, solver="ebcd", tol=float("nan")), HyperparameterError, "tol must be a number, got nan"),
    ("random-state-text", dict(X=X, rank=3, random_state="abc"), HyperparameterError, "random_state must be"),
    ("random-state-negative", dict(X=X, rank=3, random_state=-1), HyperparameterError, "random_state must be"),
    ("nan-entry", dict(X=np.where(X > 1, np.nan, X), rank=3), NonFiniteError, "NaN or infinite"),
    ("inf-entry", dict(X=np.where(X > 1, np.inf, X), rank=3), NonFiniteError, "NaN or infinite"),
    ("negative-entry", dict(X=X - 0.5, rank=3), NegativeEntriesError, "negative entries"),
    ("three-d", dict(X=np.ones((2, 3, 4)), rank=1), ShapeError, "must be 2-D"),
    ("empty", dict(X=np.zeros((0, 4)), rank=1), ShapeError, "empty"),
    ("all-zero", dict(X=np.zeros((5, 4)), rank=1), ZeroMatrixError, "all zero"),
    ("rank-too-big", dict(X=X, rank=15), RankError, "rank must be between 1 and 14"),
    ("rank-fraction", dict(X=X, rank=2.5), RankError, "rank must be an integer"),
    ("unknown-solver", dict(X=X, rank=3, solver="magic"), UnknownSolverError, "unknown solver 'magic'"),
    ("unknown-hyperparameter", dict(X=X, rank=3, solver="ebcd", speed=2), HyperparameterError, "speed"),
    ("hyperparameter-out-of-bounds", dict(X=X, rank=3, solver="nmd_3b", beta=5.0), HyperparameterError, "beta"),
    ("unknown-init", dict(X=X, rank=3, init="svd++"), InitError, "init must be one of"),
    ("start-wrong-shape", dict(X=X, rank=3, solver="bcd", init={"W": np.ones((4, 3)), "H": np.ones((3, 15))}),
     InitError, "must have shape (20, 3)"),
    ("not-symmetric", dict(X=X[:15], rank=3, solver="nsmd_apb"), NotSymmetricError, "not symmetric"),
    ("max-iter-negative", dict(X=X, rank=3, max_iter=-1), HyperparameterError, "max_iter must be >= 0"),
    ("object-dtype", dict(X=np.array([["a", "b"], ["c", "d"]], dtype=object), rank=1), ShapeError, "numeric"),
    ("complex-entries", dict(X=np.ones((3, 3), dtype=complex), rank=1), ShapeError, "complex"),
    ("ragged-list", dict(X=[[1, 2], [3]], rank=1), ShapeError, "cannot be read as a matrix"),
    ("sparse-with-nan", dict(X=sp.csr_matrix(np.where(X > 1, np.nan, X)), rank=3), NonFiniteError, "NaN"),
    ("callback-not-callable", dict(X=X, rank=3, callback=5), HyperparameterError, "callback must be callable"),
    ("stop-event-without-is-set", dict(X=X, rank=3, stop_event=object()), HyperparameterError, "is_set()"),
]


@pytest.mark.parametrize("kwargs, error, fragment", [pytest.param(k, e, t, id=i) for i, k, e, t in DECOMPOSE])
def test_decompose_table_library(kwargs, error, fragment):
    kwargs = dict(kwargs)
    X, rank = kwargs.pop("X"), kwargs.pop("rank")
    if error is None:
        res = nmdcore.decompose(X, rank, max_iter=kwargs.pop("max_iter", 15), random_state=0, **kwargs)
        assert np.isfinite(res.theta).all() and np.isfinite(res.relu_error)
        assert res.relu_error < 1 and res.data_scale != 1.0
        return
    with pytest.raises(error) as info:
        nmdcore.decompose(X, rank, **kwargs)
    message = str(info.value)
    assert type(info.value) is error and one_line(message), message
    assert fragment in message


# --------------------------------------------------------------------------- the table: the app

#: (id, uploaded files, error class whose message the app shows, fragment shown)
APP_UPLOADS = [
    ("app-eps-named-png", [("evil.png", EPS, "image/png")], DatasetError, "PostScript/EPS"),
    ("app-lying-zip", [("l.zip", lying_zip(4 * 2**20, 10), "application/zip")], DatasetError, "declared size"),
    ("app-decimal-comma", [("d.csv", csv("1,5;2,5\n3,5;0,0\n"), "text/csv")], DatasetError, "decimal commas"),
    ("app-negative-csv", [("n.csv", csv("1,-2\n3,4\n"), "text/csv")], NegativeEntriesError, "negative entries"),
    ("app-markdown-cell", [("m.csv", csv(f"1,2\n3,{MARKDOWN_IMAGE}\n"), "text/csv")], DatasetError,
     "row 2, column 2"),
    ("app-npy-declares-huge", [("h.npy", npy_declaring((200000, 20000)), "application/octet-stream")], ShapeError,
     "200000x20000"),
    ("app-pickle", [("p.npy", npy_bytes(np.array([{"a": 1}], dtype=object)), "application/octet-stream")], DatasetError,
     "no pickle"),
    ("app-corrupt-zip", [("c.zip", b"PK\x03\x04 no", "application/zip")], DatasetError, "corrupt zip archive"),
]


def plain(shown: str) -> str:
    """What the user reads of markdown-escaped text."""
    import re

    from ui.text import WORD_JOINER

    return re.sub(r"\\(.)", r"\1", shown).replace(WORD_JOINER, "")


def upload_page() -> AppTest:
    at = open_page("pages/2_Explore.py", 60)
    at.sidebar.selectbox(key="dataset").set_value("__upload__").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("files, error, fragment", [pytest.param(f, e, t, id=i) for i, f, e, t in APP_UPLOADS])
def test_upload_table_app(files, error, fragment):
    at = upload_page()
    at.sidebar.file_uploader(key="upload").set_value(files).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    shown = at.error[0].value
    assert one_line(shown) and fragment in plain(shown), shown
    # the message is the library's own, for the same files
    with pytest.raises(error) as info:
        from_files([(name, data) for name, data, _ in files])
    assert plain(shown) == " ".join(str(info.value).split())


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_extreme_magnitudes_run_in_the_app(scale):
    at = upload_page()
    at.sidebar.file_uploader(key="upload").set_value(("x.npy", npy_bytes(X * scale), "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert not at.error
    at.slider(key="rank").set_value(3)
    at.number_input(key="explore_max_iter").set_value(5)
    at.button(key="run").click().run()
    finish_runs(at)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    result = page_run(at, "explore").result
    assert np.isfinite(result.theta).all() and result.data_scale != 1.0
    shown = [m.value for m in at.metric] + [c.value for c in at.caption]
    assert shown and not [text for text in shown if "nan" in text.lower() or "inf" in text.lower()], shown


# --------------------------------------------------------------------------- beyond the error

def test_eps_never_reaches_pillows_postscript_decoder(monkeypatch):
    from PIL import EpsImagePlugin

    def forbidden(*args, **kwargs):
        raise AssertionError("the EPS decoder was reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", forbidden)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    with pytest.raises(DatasetError, match="PostScript/EPS"):
        from_files([("evil.png", EPS), ("also.pgm", EPS)])


def test_listed_formats_still_decode_including_pgm_ppm_pbm():
    for fmt, ext, mode in [("PPM", ".pgm", "L"), ("PPM", ".ppm", "RGB"), ("PPM", ".pbm", "1"),
                           ("JPEG", ".jpg", "L"), ("TIFF", ".tif", "L"), ("BMP", ".bmp", "L"), ("GIF", ".gif", "L")]:
        buf = io.BytesIO()
        Image.fromarray((np.arange(30).reshape(6, 5) * 8).astype(np.uint8)).convert(mode).save(buf, format=fmt)
        ds = from_files([(f"a{ext}", buf.getvalue())])
        assert ds.X.shape == (6, 5), ext


def test_lying_member_stops_the_archive_and_lists_what_was_not_opened():
    data = lying_zip(4 * 2**20, 10, after=("later1.png", "later2.png"), after_data=png())
    with pytest.raises(DatasetError) as info:
        from_files([("l.zip", data)])
    assert "declared size of 10 bytes" in str(info.value)
    ds = from_files([("good.png", png()), ("l.zip", data)])
    reasons = dict(ds.skipped)
    assert "declared size" in reasons["l.zip/x.npy"]
    assert reasons["l.zip/later1.png"] == reasons["l.zip/later2.png"] == "not opened: x.npy lies about its size"


def test_lying_member_is_refused_after_reading_no_more_than_declared(monkeypatch):
    """The audit's case: the work is bounded by the declared size, not by the stream."""
    sizes = []
    real_read = zipfile.ZipExtFile.read

    def read(self, n=-1):
        out = real_read(self, n)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    with pytest.raises(DatasetError):
        from_files([("l.zip", lying_zip(64 * 2**20, 10))])
    assert sum(sizes) <= 10


def test_windows_member_name_is_listed_as_skipped_not_dropped():
    ds = from_files([("w.zip", zip_bytes({"..\\..\\win.png": png(), "ok.png": png()}))])
    assert [n for n, _ in ds.skipped] == ["w.zip/..\\..\\win.png"]
    assert ds.X.shape == (6, 5)


def test_fast_and_line_csv_readers_agree_and_bad_cells_keep_their_place():
    from nmdcore.datasets._matrices import _parse_text_lines, _read_text_matrix

    rng = np.random.default_rng(3)
    A = np.round(rng.random((40, 7)) * (rng.random((40, 7)) < 0.5), 6)
    for sep in (",", ";", "\t", " "):
        text = "# comment\nc1" + sep + sep.join(f"c{j}" for j in range(2, 8)) + "\n" + "\n".join(
            sep.join(repr(float(v)) for v in row) for row in A) + "\n"
        fast = _read_text_matrix(text.encode(), 10**6)
        np.testing.assert_array_equal(fast, A)
        np.testing.assert_array_equal(_parse_text_lines(text.splitlines(), 10**6), A)
    bad = "\n".join(",".join(str(v) for v in row) for row in A[:5]) + "\n1,2,3,x,5,6,7\n"
    with pytest.raises(DatasetError, match="row 6, column 4"):
        _read_text_matrix(bad.encode(), 10**6)


def test_refused_upload_is_cached_for_the_session(monkeypatch):
    import nmdcore.datasets

    calls = []
    real = nmdcore.datasets.from_files

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(nmdcore.datasets, "from_files", counting)
    at = upload_page()
    at.sidebar.file_uploader(key="upload").set_value(("l.zip", lying_zip(4 * 2**20, 10), "application/zip")).run()
    assert len(at.error) == 1
    at.run()
    at.run()
    assert not at.exception and len(at.error) == 1
    assert len(calls) == 1


def test_upload_memory_is_bounded_over_all_sessions(monkeypatch):
    import ui.data

    at = upload_page()
    held = ui.data.UPLOADS.held_bytes
    monkeypatch.setenv("NMD_APP_UPLOADS_MB", str((held + X.nbytes / 2) / 2**20))
    at.sidebar.file_uploader(key="upload").set_value(("a.npy", npy_bytes(X), "application/octet-stream")).run()
    assert not at.exception and len(at.error) == 1
    assert "MB for all sessions" in plain(at.error[0].value)
    monkeypatch.setenv("NMD_APP_UPLOADS_MB", "not a number")  # the default then: 1 GB
    at.run()  # not cached: the same upload goes through once there is room
    assert not at.error and at.session_state["uploaded"].X.shape == X.shape
    assert ui.data.UPLOADS.held_bytes == held + X.nbytes
    at.sidebar.file_uploader(key="upload").set_value(("b.npy", npy_bytes(2 * X), "application/octet-stream")).run()
    assert ui.data.UPLOADS.held_bytes == held + X.nbytes  # the session's earlier upload was released


def test_markdown_in_names_and_cells_is_shown_as_text():
    at = upload_page()
    files = [("m.zip", zip_bytes({f"{MARKDOWN_IMAGE}.png": EPS, "ok.png": png()}), "application/zip")]
    at.sidebar.file_uploader(key="upload").set_value(files).run()
    assert not at.exception and not at.error
    warning = at.sidebar.warning[0].value
    assert "![x](" not in warning and plain(warning).startswith(f"skipped m.zip/{MARKDOWN_IMAGE}.png")
    at.sidebar.file_uploader(key="upload").set_value(
        ("m.csv", csv(f"1,2\n3,{MARKDOWN_IMAGE}\n"), "text/csv")).run()
    assert "](" not in at.error[0].value.replace("\\]\\(", "")


def test_escaped_text_reads_the_same_and_has_no_markdown_left():
    from ui.text import escape_markdown

    hostile = "a.zip/![x](https://h.invalid/t.png) :red[x] $x$ **b** <i> `c` www.h.invalid u@h.invalid\nnext"
    shown = escape_markdown(hostile)
    assert plain(shown) == " ".join(hostile.split()) and "\n" not in shown
    for raw in ("![", "](", "**", "`c`", ":red[", "://", "www.", "$x$"):
        assert raw not in shown, raw


def test_negative_upload_offers_a_repair_that_loads_it():
    at = upload_page()
    at.sidebar.file_uploader(key="upload").set_value(("n.csv", csv("1,-2,0\n3,4,5\n0,1,2\n"), "text/csv")).run()
    assert len(at.error) == 1 and "negative" in at.error[0].value
    repair = at.sidebar.radio(key="upload_repair")
    assert repair.value is None and repair.options == ["refuse", "clip at zero", "shift by the minimum",
                                                        "absolute value"]
    repair.set_value("clip").run()
    assert not at.exception and not at.error
    np.testing.assert_array_equal(at.session_state["uploaded"].X, [[1, 0, 0], [3, 4, 5], [0, 1, 2]])
    at.sidebar.radio(key="upload_repair").set_value("abs").run()
    np.testing.assert_array_equal(at.session_state["uploaded"].X, [[1, 2, 0], [3, 4, 5], [0, 1, 2]])


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04\x14\x00", "truncated"])
def test_damaged_nmf_cache_file_is_recomputed_and_replaced(tmp_path, monkeypatch, damage):
    from nmdcore import datasets

    monkeypatch.setenv("NMD_CACHE_DIR", str(tmp_path))
    first = datasets.load("nmf_basis", source="mnist5k", rank=2, max_iter=4)
    path = first.meta["cache"]
    whole = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(whole[: len(whole) // 2] if damage == "truncated" else damage)
    again = datasets.load("nmf_basis", source="mnist5k", rank=2, max_iter=4)
    # recomputed, not read: the same basis up to the last bits that threaded sums may change between runs
    np.testing.assert_allclose(again.X, first.X, rtol=1e-9, atol=1e-12)
    assert open(path, "rb").read() == whole or np.load(path)["U"].shape == first.X.shape


def test_upload_benchmark_runs_on_tiny_inputs():
    from benchmarks import bench_uploads

    lines = bench_uploads.main(["--smoke"])
    assert len(lines) == 3 and "refused" in lines[1] and "largest accepted upload" in lines[2]


def test_the_table_has_at_least_sixty_rows():
    assert len(UPLOADS) + len(DECOMPOSE) + len(APP_UPLOADS) >= 60
