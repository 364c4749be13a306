"""nmdcore.datasets.from_files: every upload format, and every bad input gets its own reason."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from PIL import Image

from nmdcore import DatasetError, NegativeEntriesError, NMDError, NonFiniteError, ShapeError, ZeroMatrixError
from nmdcore.datasets import from_files
from tests.helpers import npy_bytes, zip_bytes


def gray(seed: int, shape=(12, 10)) -> np.ndarray:
    """A uint8 test image with a few exact zeros."""
    img = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    img[0, :3] = 0
    return img


def encode(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size in its header (a decompression bomb's signature)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


A = np.array([[0.0, 1.5, 2.0], [3.0, 0.0, 4.25], [0.5, 0.0, 0.0]])


# --------------------------------------------------------------------------- images

LOSSLESS = [("PNG", ".png"), ("PPM", ".pgm"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("GIF", ".gif")]


@pytest.mark.parametrize("fmt, ext", LOSSLESS)
def test_lossless_image_formats_give_exact_columns(fmt, ext):
    imgs = [gray(1), gray(2), gray(3)]
    ds = from_files([(f"im{i}{ext}", encode(im, fmt)) for i, im in enumerate(imgs)])
    assert ds.kind == "image_set" and ds.image_shape == (12, 10) and ds.skipped == []
    expected = np.stack([im.ravel() for im in imgs], axis=1) / 255.0
    np.testing.assert_allclose(ds.X, expected, atol=1e-12)


def test_jpeg_and_color_images_become_grayscale():
    rgb = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    ds = from_files([("a.jpg", encode(rgb, "JPEG", quality=95)), ("b.ppm", encode(rgb, "PPM"))])
    expected = np.asarray(Image.fromarray(rgb).convert("L"), dtype=float).ravel() / 255.0
    np.testing.assert_allclose(ds.X[:, 1], expected)  # PPM is lossless: exactly Pillow's luma
    assert np.max(np.abs(ds.X[:, 0] - expected)) < 0.15  # JPEG: close
    assert ds.X.shape == (256, 2)


def test_gif_uses_first_frame():
    first, second = gray(4), gray(5)
    buffer = io.BytesIO()
    Image.fromarray(first).save(buffer, format="GIF", save_all=True, append_images=[Image.fromarray(second)])
    ds = from_files([("anim.gif", buffer.getvalue()), ("still.png", encode(second, "PNG"))])
    np.testing.assert_allclose(ds.X[:, 0], first.ravel() / 255.0)


def test_sixteen_bit_images_scale_to_unit_range():
    img = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000)
    ds = from_files([("a.png", encode(img, "PNG")), ("b.tiff", encode(img, "TIFF"))])
    np.testing.assert_allclose(ds.X[:, 0], img.ravel() / 65535.0)
    np.testing.assert_allclose(ds.X[:, 1], img.ravel() / 65535.0)


def test_single_image_is_the_matrix_itself():
    img = gray(6, shape=(20, 30))
    ds = from_files([("one.png", encode(img, "PNG"))])
    assert ds.kind == "image" and ds.image_shape is None
    np.testing.assert_allclose(ds.X, img / 255.0)


def test_zip_of_images_skips_folders_hidden_files_and_bad_members():
    members = {"faces/": b"", "faces/a.png": encode(gray(1), "PNG"), "faces/b.bmp": encode(gray(2), "BMP"),
               "__MACOSX/faces/._a.png": b"junk", "faces/.DS_Store": b"junk", "faces/bad.png": b"not a png",
               "inner.zip": zip_bytes({"c.png": encode(gray(3), "PNG")})}
    ds = from_files([("set.zip", zip_bytes(members))])
    assert ds.X.shape == (120, 2)
    reasons = dict(ds.skipped)
    assert set(reasons) == {"set.zip/faces/bad.png", "set.zip/inner.zip"}
    assert "archive" in reasons["set.zip/inner.zip"]


def test_folders_of_a_zip_become_labels_in_natural_order():
    members = {f"orl/s{k}/{i}.pgm": encode(gray(10 * k + i), "PPM") for k in (10, 2, 1) for i in (1, 2)}
    ds = from_files([("orl.zip", zip_bytes(members))])
    assert ds.meta["classes"] == ["s1", "s2", "s10"]
    np.testing.assert_array_equal(ds.labels, [2, 2, 1, 1, 0, 0])  # zip order kept, ids by folder
    flat = from_files([("a.png", encode(gray(1), "PNG")), ("b.png", encode(gray(2), "PNG"))])
    assert flat.labels is None


def test_camera_orientation_is_applied():
    img = gray(7, shape=(6, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG", exif=exif)
    ds = from_files([("photo.png", buffer.getvalue())])
    np.testing.assert_allclose(ds.X, np.rot90(img, -1) / 255.0)


def test_most_common_shape_wins_and_others_are_listed():
    files = [("a.png", encode(gray(1), "PNG")), ("b.png", encode(gray(2), "PNG")),
             ("odd.png", encode(gray(3, shape=(5, 7)), "PNG"))]
    ds = from_files(files)
    assert ds.X.shape == (120, 2)
    assert ds.skipped[0][0] == "odd.png" and "5x7" in ds.skipped[0][1] and "12x10" in ds.skipped[0][1]


def test_given_shape_resizes_every_image():
    files = [("a.png", encode(gray(1), "PNG")), ("odd.png", encode(gray(3, shape=(40, 28)), "PNG"))]
    ds = from_files(files, image_shape=(8, 6))
    assert ds.image_shape == (8, 6) and ds.X.shape == (48, 2) and ds.skipped == []
    assert np.all(ds.X >= 0) and ds.X.max() <= 1.0
    flat = from_files([("c.png", encode(np.full((9, 9), 128, np.uint8), "PNG")),
                       ("d.png", encode(gray(2, (9, 9)), "PNG"))], image_shape=(3, 3))
    np.testing.assert_allclose(flat.X[:, 0], 128 / 255, rtol=1e-6)  # resizing a flat image keeps it flat


def test_bad_files_are_skipped_with_one_line_reasons_and_good_ones_kept():
    good = encode(gray(1), "PNG")
    truncated = good[: len(good) // 2]
    files = [("ok1.png", good), ("ok2.png", encode(gray(2), "PNG")), ("empty.png", b""),
             ("cut.png", truncated), ("fake.jpg", b"hello, I am text"), ("notes.docx", b"PK\x03\x04 junk"),
             ("broken.zip", b"PK\x03\x04 not really a zip")]
    ds = from_files(files)
    assert ds.X.shape == (120, 2)
    reasons = dict(ds.skipped)
    assert set(reasons) == {"empty.png", "cut.png", "fake.jpg", "notes.docx", "broken.zip"}
    assert "0 bytes" in reasons["empty.png"]
    assert "truncated" in reasons["cut.png"]
    assert "not an image" in reasons["fake.jpg"]
    assert "unsupported file type .docx" == reasons["notes.docx"]
    assert "zip" in reasons["broken.zip"]
    assert all("\n" not in r for r in reasons.values())


def test_decompression_bomb_is_refused_by_pillows_guard():
    bomb = png_header_only(40_000, 40_000)  # 1.6e9 pixels declared, 100 bytes on disk
    ds = from_files([("bomb.png", bomb), ("a.png", encode(gray(1), "PNG")), ("b.png", encode(gray(2), "PNG"))],
                    max_entries=10**10)
    assert dict(ds.skipped)["bomb.png"].startswith("refused as a possible decompression bomb")


def test_pixel_limits_per_image_and_in_all():
    files = [(f"{i}.png", encode(gray(i), "PNG")) for i in range(5)]
    ds = from_files(files, max_entries=300)  # 120 pixels each: two fit
    assert ds.X.shape == (120, 2)
    assert [n for n, _ in ds.skipped] == ["2.png", "3.png", "4.png"]
    assert all("limit of 300 pixels" in r for _, r in ds.skipped)
    big = from_files(files[:2] + [("big.png", encode(gray(9, (50, 50)), "PNG"))], max_entries=1000)
    assert dict(big.skipped)["big.png"].startswith("refused: 50x50 pixels exceed")


def test_file_count_and_byte_limits():
    files = [(f"{i}.png", encode(gray(i), "PNG")) for i in range(5)]
    ds = from_files(files, max_files=3)
    assert ds.X.shape[1] == 3 and [n for n, _ in ds.skipped] == ["3.png", "4.png"]
    assert "limit of 3 files" in ds.skipped[0][1]
    # a small zip that unpacks to 2 MB is refused from its declared size, nothing is inflated
    bomb_zip = zip_bytes({"zeros.png": b"\0" * 2_000_000})
    assert len(bomb_zip) < 10_000
    ds = from_files([("z.zip", bomb_zip)] + files[:2], max_bytes=1_000_000)
    assert "over the limit" in dict(ds.skipped)["z.zip/zeros.png"]
    assert ds.X.shape[1] == 2


def test_nothing_usable_raises_dataset_error():
    with pytest.raises(DatasetError, match="no usable file"):
        from_files([("a.png", b"garbage"), ("b.gif", b"")])


# --------------------------------------------------------------------------- matrices

def sparse_npz(matrix) -> bytes:
    buffer = io.BytesIO()
    sp.save_npz(buffer, matrix)
    return buffer.getvalue()


def dense_npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def mtx(matrix) -> bytes:
    buffer = io.BytesIO()
    scipy.io.mmwrite(buffer, matrix)
    return buffer.getvalue()


MATRIX_FILES = [
    ("m.npy", lambda: npy_bytes(A), A),
    ("m.npy", lambda: npy_bytes(A.astype(np.float32)), A),
    ("m.npy", lambda: npy_bytes((A * 4).astype(np.int16)), A * 4),
    ("m.npz", lambda: dense_npz(anything=A), A),
    ("m.npz", lambda: dense_npz(X=A, labels=np.arange(3)), A),
    ("m.npz", lambda: sparse_npz(sp.csr_matrix(A)), A),
    ("m.npz", lambda: sparse_npz(sp.coo_matrix(A)), A),
    ("m.npz", lambda: sparse_npz(sp.csc_matrix(A)), A),
    ("m.csv", lambda: b"0,1.5,2\n3,0,4.25\n0.5,0,0\n", A),
    ("m.csv", lambda: b"a;b;c\r\n0;1.5;2\r\n3;0;4.25\r\n0.5;0;0\r\n", A),
    ("m.txt", lambda: b"# comment\n0 1.5 2\n3\t0 4.25\n\n0.5 0 0e0\n", A),
    ("m.mtx", lambda: mtx(sp.coo_matrix(A)), A),
    ("m.mtx", lambda: mtx(A), A),
]


@pytest.mark.parametrize("filename, make, expected", MATRIX_FILES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MATRIX_FILES)])
def test_matrix_formats_load_exactly(filename, make, expected):
    ds = from_files([(filename, make())])
    np.testing.assert_array_equal(ds.X, expected)
    assert ds.kind == "sparse_matrix" and ds.X.dtype == np.float64 and ds.skipped == []


S = np.array([[2.0, 1.0, 0.0], [1.0, 0.0, 3.5], [0.0, 3.5, 1.0]])


def mtx_with(matrix, **kwargs) -> bytes:
    buffer = io.BytesIO()
    scipy.io.mmwrite(buffer, matrix, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("content, expected", [
    (lambda: mtx_with(sp.coo_matrix(S), symmetry="symmetric"), S),
    (lambda: mtx_with(S, symmetry="symmetric"), S),
    (lambda: mtx_with(sp.coo_matrix(A * 4), field="integer"), A * 4),
    (lambda: mtx_with(sp.coo_matrix(A), field="pattern"), (A > 0).astype(float)),
    (lambda: mtx_with(A.T), A.T),
    (lambda: b"%%MatrixMarket matrix coordinate real general\n% c\n2 2 3\n1 1 1\n1 1 2\n2 2 1e0\n",
     np.array([[3.0, 0.0], [0.0, 1.0]])),  # repeated coordinates add up
], ids=["coo-sym", "array-sym", "integer", "pattern", "array", "repeats"])
def test_matrix_market_variants(content, expected):
    np.testing.assert_array_equal(from_files([("m.mtx", content())]).X, expected)


def test_skew_symmetric_matrix_market_needs_a_repair():
    text = b"%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 2\n2 1 1.5\n3 2 2\n"
    with pytest.raises(NegativeEntriesError, match="2 negative"):
        from_files([("k.mtx", text)])
    expected = np.abs(np.array([[0, -1.5, 0], [1.5, 0, -2], [0, 2, 0]]))
    np.testing.assert_array_equal(from_files([("k.mtx", text)], repair="abs").X, expected)


@pytest.mark.parametrize("body, text", [
    (b"3 3 1\n1 1 1x", "'1x'"),  # crashed scipy.io.mmread (1.17.1) with a segmentation fault
    (b"3 3 1\n4 1 1.0\n", "index outside"),
    (b"3 3 1\n0 1 1.0\n", "index outside"),
    (b"3 3 1\n1.5 1 1.0\n", "index outside"),
    (b"3 3 2\n1 1 1.0\n", "declares 2 entries"),
    (b"3 3\n1 1 1.0\n", "bad size line"),
    (b"3 3 1\n1 1 nan\n", "NaN"),
])
def test_damaged_matrix_market_files_are_refused(body, text):
    with pytest.raises(NMDError, match=text):
        from_files([("m.mtx", b"%%MatrixMarket matrix coordinate real general\n" + body)])


def test_float32_is_kept_when_asked():
    ds = from_files([("m.npy", npy_bytes(A))], dtype=np.float32)
    assert ds.X.dtype == np.float32


@pytest.mark.parametrize("content, error, where", [
    (b"1,2,3\n4,nan,6\n", NonFiniteError, "row 2, column 2"),
    (b"1,2,3\n4,5,inf\n", NonFiniteError, "row 2, column 3"),
    (b"1,2,3\n4,5,-Infinity\n", NonFiniteError, "row 2, column 3"),
    (b"1,2,3\n4,five,6\n", DatasetError, "'five' at row 2, column 2"),
    (b"x,y,z\n1,2,3\nfoo,2,3\n", DatasetError, "row 3, column 1"),
    (b"1,2,3\n4,5\n", ShapeError, "row 2 has 2 values, expected 3"),
    (b"\xff\xfe\x00garbage", DatasetError, "UTF-8"),
])
def test_csv_bad_cells_are_refused_with_their_place(content, error, where):
    with pytest.raises(error, match=where) as info:
        from_files([("bad.csv", content)])
    assert str(info.value).startswith("bad.csv ") and "\n" not in str(info.value)


def test_negative_entries_are_refused_with_count_unless_repaired():
    B = np.array([[1.0, -2.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 1.0, -4.0]])
    with pytest.raises(NegativeEntriesError, match="3 negative entries"):
        from_files([("neg.npy", npy_bytes(B))])
    np.testing.assert_array_equal(from_files([("neg.npy", npy_bytes(B))], repair="clip").X, np.maximum(B, 0))
    np.testing.assert_array_equal(from_files([("neg.npy", npy_bytes(B))], repair="shift").X, B + 4)
    np.testing.assert_array_equal(from_files([("neg.npy", npy_bytes(B))], repair="abs").X, np.abs(B))
    with pytest.raises(DatasetError, match="repair"):
        from_files([("neg.npy", npy_bytes(B))], repair="square")


@pytest.mark.parametrize("matrix, error, text", [
    (np.zeros((4, 5)), ZeroMatrixError, "all zero"),
    (np.full((4, 5), 2.5), ZeroMatrixError, "constant"),
    (np.arange(1.0, 6.0)[None, :], ShapeError, "1x5"),
    (np.arange(1.0, 6.0)[:, None], ShapeError, "5x1"),
    (np.arange(1.0, 9.0).reshape(2, 2, 2), ShapeError, "2-D"),
    (np.array([[1 + 1j, 2], [3, 4]]), ShapeError, "complex"),
])
def test_unusable_matrices_raise_specific_errors(matrix, error, text):
    with pytest.raises(error, match=text):
        from_files([("m.npy", npy_bytes(matrix))])


def test_a_float_image_with_negative_pixels_is_skipped_unless_repaired():
    signed = np.linspace(-1.0, 1.0, 120, dtype=np.float32).reshape(12, 10)
    files = [("a.png", encode(gray(1), "PNG")), ("b.png", encode(gray(2), "PNG")),
             ("signed.tif", encode(signed, "TIFF"))]
    ds = from_files(files)
    assert ds.X.shape == (120, 2) and "60 negative pixels" in dict(ds.skipped)["signed.tif"]
    clipped = from_files(files, repair="clip")
    assert clipped.X.shape == (120, 3) and clipped.X.min() == 0


def test_square_symmetric_upload_is_marked_symmetric():
    S = A + A.T
    assert from_files([("s.npy", npy_bytes(S))]).kind == "symmetric"
    assert from_files([("a.npy", npy_bytes(A))]).kind == "sparse_matrix"


def test_pickled_objects_are_never_loaded():
    obj = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(DatasetError, match="no pickle"):
        from_files([("evil.npy", npy_bytes(obj))])
    buffer = io.BytesIO()
    np.savez(buffer, X=obj)
    with pytest.raises(DatasetError, match="no pickle"):
        from_files([("evil.npz", buffer.getvalue())])


@pytest.mark.parametrize("filename, content, text", [
    ("m.npy", b"", "empty"),
    ("m.npy", b"just some text", "not a NumPy .npy file"),
    ("m.npy", npy_bytes(A)[:70], "corrupt|cannot be read"),
    ("m.npz", b"PK\x03\x04 broken", "corrupt|cannot be read"),
    ("m.npz", dense_npz(a=A, b=A), "several arrays"),
    ("m.mtx", b"%%MatrixMarket matrix array complex general\n1 2\n1 0 2 0\n", "complex"),
    ("m.mtx", b"not a matrix market file\n", "not a Matrix Market file"),
    ("m.mtx", "%%MatrixMarket matrix array réal general\n".encode(), "not ASCII"),
])
def test_corrupt_matrix_files_raise(filename, content, text):
    with pytest.raises(NMDError, match=text):
        from_files([(filename, content)])


@pytest.mark.parametrize("arrays, text", [
    (dict(format="csr", shape=[3, 3], data=[1.0, 2.0], indices=[1, 2], indptr=[0, 5, 1, 2]), "indptr"),
    (dict(format="csr", shape=[3, 3], data=[1.0, 2.0], indices=[1, 10**6], indptr=[0, 1, 2, 2]), "broken scipy sparse"),
    (dict(format="csc", shape=[3, 3], data=[1.0, 2.0], indices=[1, -5], indptr=[0, 1, 2, 2]), "broken scipy sparse"),
    (dict(format="coo", shape=[3, 3], data=[1.0, 2.0], row=[0, 10**6], col=[1, 2]), "index"),
    (dict(format="dia", shape=[3, 3], data=[[1.0, 2.0, 3.0]], offsets=[0]), "save it as csr"),
])
def test_inconsistent_sparse_npz_is_refused_not_read_out_of_bounds(arrays, text):
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.array(v) for k, v in arrays.items()})
    with pytest.raises(NMDError, match=text):
        from_files([("m.npz", buffer.getvalue())])


def test_declared_sizes_over_the_limit_are_refused_before_reading():
    header = b"%%MatrixMarket matrix array real general\n100000 100000\n1\n"
    with pytest.raises(ShapeError, match="more than"):
        from_files([("huge.mtx", header)])
    big = sparse_npz(sp.csr_matrix((100_000, 100_000)))
    with pytest.raises(ShapeError, match="more than"):
        from_files([("huge.npz", big)])
    with pytest.raises(ShapeError, match="more than 5 entries"):
        from_files([("m.csv", b"1,2,3\n4,5,6\n")], max_entries=5)
    # a .npy header that claims 80 GB: refused before NumPy allocates anything
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (100_000, 100_000)})
    fake = buffer.getvalue() + bytes(32)
    for name, content in (("big.npy", fake), ("big.npz", dense_npz(X=np.zeros((6, 5))))):
        with pytest.raises(ShapeError, match="more than"):
            from_files([(name, content)], max_entries=25 if name.endswith("npz") else 10**6)


def test_one_matrix_per_upload_and_images_beside_it_are_listed():
    files = [("a.png", encode(gray(1), "PNG")), ("m.npy", npy_bytes(A)), ("n.csv", b"1,2\n3,4\n")]
    ds = from_files(files)
    np.testing.assert_array_equal(ds.X, A)
    reasons = dict(ds.skipped)
    assert "m.npy was used" in reasons["n.csv"] and "matrix file" in reasons["a.png"]


def test_a_bad_matrix_beside_good_images_loses_nothing_else():
    files = [("a.png", encode(gray(1), "PNG")), ("b.png", encode(gray(2), "PNG")),
             ("bad.csv", b"1,2\n3,nan\n")]
    ds = from_files(files)
    assert ds.X.shape == (120, 2)
    assert "row 2, column 2" in dict(ds.skipped)["bad.csv"]


@pytest.mark.parametrize("files, options", [
    ([], {}),
    ("a.png", {}),
    ([("a.png", "not bytes")], {}),
    ([("a.png",)], {}),
    ([("m.npy", npy_bytes(A))], {"max_files": 0}),
    ([("m.npy", npy_bytes(A))], {"image_shape": (0, 3)}),
    ([("m.npy", npy_bytes(A))], {"image_shape": "big"}),
    ([("m.npy", npy_bytes(A))], {"dtype": np.int64}),
])
def test_bad_arguments_raise_dataset_error(files, options):
    with pytest.raises(DatasetError):
        from_files(files, **options)


def test_random_damage_never_escapes_as_anything_but_a_reason():
    """Truncated or bit-flipped files of every format: a Dataset or an NMDError, nothing else.

    FUZZ_N=300 in the environment tries more damaged copies of each file.
    """
    rng = np.random.default_rng(0)
    good = encode(gray(1), "PNG")
    originals = {"a.png": good, "a.jpg": encode(gray(2), "JPEG"), "a.gif": encode(gray(3), "GIF"),
                 "a.tif": encode(gray(4), "TIFF"), "a.bmp": encode(gray(5), "BMP"),
                 "m.npy": npy_bytes(A), "m.npz": sparse_npz(sp.csr_matrix(A)), "m.mtx": mtx(sp.coo_matrix(A)),
                 "m.csv": b"0,1.5,2\n3,0,4.25\n0.5,0,0\n", "z.zip": zip_bytes({"x.png": good, "y.png": good})}
    for name, data in originals.items():
        for _ in range(int(os.environ.get("FUZZ_N", 12))):
            damaged = bytearray(data[: rng.integers(1, len(data))] if rng.random() < 0.5 else data)
            for pos in rng.integers(0, len(damaged), size=3):
                damaged[pos] ^= 1 << int(rng.integers(8))
            try:
                ds = from_files([(name, bytes(damaged)), ("ok1.png", good), ("ok2.png", encode(gray(6), "PNG"))])
            except NMDError as exc:
                assert "\n" not in str(exc)
            else:
                assert ds.X.ndim == 2 and np.all(np.isfinite(ds.X)) and ds.X.min() >= 0
                assert all("\n" not in reason for _, reason in ds.skipped)
