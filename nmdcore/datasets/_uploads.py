"""Uploaded files -> one :class:`Dataset`; every file that is not used is listed with why."""
from __future__ import annotations

import io
import math
import os
import posixpath
import re
import warnings
import zipfile
from collections import Counter

import numpy as np
import scipy.sparse as sp

from .._errors import DatasetError, NMDError, NonFiniteError, ShapeError
from ._dataset import REPAIRS, Dataset, finish_matrix

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".pnm", ".bmp", ".tif", ".tiff", ".gif"}
MATRIX_EXTENSIONS = {".npy", ".npz", ".csv", ".txt", ".mtx"}
#: The only Pillow decoders an upload may reach, whatever its name or content says (PPM
#: covers PGM, PBM and PNM). Pillow picks a decoder by content, and some of the others hand the
#: bytes to outside programs (EPS runs Ghostscript) or parse little-tested formats.
IMAGE_FORMATS = ("PNG", "JPEG", "PPM", "BMP", "TIFF", "GIF")
#: Signatures of formats that are refused, so that the refusal can name what the file really is.
_KNOWN_SIGNATURES = (
    (b"%!PS", "PostScript/EPS"), (b"\xc5\xd0\xd3\xc6", "EPS (DOS binary)"), (b"%PDF", "PDF"),
    (b"8BPS", "Photoshop PSD"),
    (b"icns", "Apple ICNS"), (b"DDS ", "DirectDraw DDS"), (b"qoif", "QOI"), (b"gimp xcf", "GIMP XCF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"\xd7\xcd\xc6\x9a", "Windows WMF"), (b"SIMPLE  =", "FITS"),
    (b"\x89HDF", "HDF5"), (b"\x0a\x05\x01", "PCX"), (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"#define", "X bitmap XBM"), (b"/* XPM */", "X pixmap XPM"), (b"\x01\xda", "SGI"),
    (b"BLP1", "Blizzard BLP"), (b"BLP2", "Blizzard BLP"), (b"PK\x03\x04", "zip archive"),
    (b"\x93NUMPY", "NumPy .npy"),
)
#: Inflating a zip member stops when it exceeds its declared size, and a member whose declared
#: size is more than this many times its compressed size is refused unopened. Deflate cannot
#: compress better than about 1032:1, so honest deflated members always pass.
MAX_ZIP_RATIO = 1100
#: Bytes read from a zip member at a time: zipfile inflates at most this much per call.
_ZIP_CHUNK = 4 << 20

#: Defaults of the limits of :func:`from_files` (all configurable per call).
MAX_FILES = 5000
MAX_ENTRIES = 25_000_000          # entries of X (pixels of all images together); 200 MB as float64
MAX_BYTES = 512 * 2**20           # bytes of all files, after unzipping


class _Skip(Exception):
    """This one file cannot be used; the message is the reason shown to the user."""


class _NotAnImage(_Skip):
    """The file is in none of the image formats read here."""


def _extension(filename: str) -> str:
    return os.path.splitext(filename)[1].lower()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


# --------------------------------------------------------------------------- images

def _decode_image(data: bytes, max_pixels: int, budget: int) -> np.ndarray:
    """Grayscale float image (first frame) of ``data``; raises _Skip with the reason.

    ``max_pixels`` bounds one image, ``budget`` the pixels still allowed in all; both are
    checked from the header, before anything is decoded.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # notes on damaged tags: the result decides
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise _Skip(f"refused: {w}x{h} pixels exceed the limit of {max_pixels}")
                if w * h > budget:
                    raise _Skip(f"over the limit of {max_pixels} pixels in all")
                img.seek(0)
                img.load()
                img = ImageOps.exif_transpose(img)  # camera photos: upright as they are shown
                mode = img.mode
                if mode.startswith("I;16"):
                    arr = np.asarray(img, dtype=np.float64) / 65535.0
                elif mode in ("I", "F"):
                    arr = np.asarray(img, dtype=np.float64)
                else:
                    arr = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except _Skip:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _Skip(f"refused as a possible decompression bomb ({_one_line(exc)})") from None
    except UnidentifiedImageError:
        real = _sniff_format(data)
        if real:
            raise _NotAnImage(f"is in the {real} format, not one of the image formats read here "
                              "(PNG, JPEG, PGM/PPM/PBM, BMP, TIFF, GIF)") from None
        raise _NotAnImage("not an image that can be read (unknown or corrupt format)") from None
    except Exception as exc:  # untrusted bytes: any decoder failure means this file only is unusable
        raise _Skip(f"corrupt or truncated image ({_one_line(exc)})") from None
    if arr.ndim != 2:
        raise _Skip(f"unexpected image layout {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise _Skip("image has NaN or infinite pixels")
    return arr


def _sniff_format(data: bytes) -> str | None:
    """Name of the format of ``data`` when it is a known one that is not read here, else None."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    if data[-18:] == b"TRUEVISION-XFILE.\x00":
        return "Truevision TGA"
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and head[4:6] != b"\x00\x00":
        return "Windows ICO/CUR"  # reserved 0, type 1 or 2, at least one image
    text = data[:256].lstrip().lower()
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return "SVG/XML"
    for signature, name in _KNOWN_SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def _resize(image: np.ndarray, shape: tuple) -> np.ndarray:
    from PIL import Image

    h, w = shape
    out = Image.fromarray(image.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.maximum(np.asarray(out, dtype=np.float64), 0.0)


# --------------------------------------------------------------------------- matrices

_SPLIT = re.compile(r"[,;\t ]+")


def _number_or_none(cell: str):
    try:
        return float(cell)
    except ValueError:
        return None


def _read_text_matrix(data: bytes, max_entries: int) -> np.ndarray:
    """CSV / whitespace text -> array, naming the row and column of any bad cell (1-based).

    Cells are separated by commas, semicolons, tabs or spaces; blank lines and lines starting
    with ``#`` are ignored, and a first line without any number is a header. A regular file
    with one separator is parsed by NumPy; anything else (or any problem) goes through the
    line-by-line reader, which says where the problem is.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("is not UTF-8 text") from None
    lines = text.splitlines()
    first = _first_data_line(lines)
    if first is None:
        raise ShapeError("holds no numbers")
    header = all(_number_or_none(cell) is None for cell in _SPLIT.split(first[1]) if cell)
    numbers = _first_data_line(lines, first[0] + 1) if header else first
    if numbers is None:
        raise ShapeError("holds no numbers")
    _check_decimal_comma(*numbers)
    fast = _parse_regular_text(text, lines, first[0] + 1 if header else 0, numbers[1], max_entries)
    return fast if fast is not None else _parse_text_lines(lines, max_entries)


def _first_data_line(lines: list, start: int = 0) -> tuple | None:
    """(index, stripped text) of the first line from ``start`` on that is neither blank nor a comment."""
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if line and not line.startswith("#"):
            return index, line
    return None


_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def _check_decimal_comma(index: int, line: str) -> None:
    """Refuse a file whose cells use decimal commas (``1,5;2,5``), which would read as more numbers."""
    for separator in (";", "\t", None):  # None: runs of whitespace
        cells = [c.strip() for c in line.split(separator)]
        if len(cells) > 1 and any(_DECIMAL_COMMA.match(c) for c in cells):
            example = next(c for c in cells if _DECIMAL_COMMA.match(c))
            raise DatasetError(f"uses decimal commas ({example[:20]!r} at row {index + 1}); "
                               "save it with decimal points")


def _parse_regular_text(text: str, lines: list, skip: int, sample: str, max_entries: int) -> np.ndarray | None:
    """The matrix of a file with one separator and finite numbers in every cell, else None.

    ``skip`` lines (up to a header) are not read; ``sample`` is the first line of numbers.
    """
    delimiter = next((d for d in (",", ";", "\t") if d in sample), None)
    width = len(sample.split(delimiter))
    if width * max(len(lines) - skip, 1) > max_entries:
        return None  # may be over the limit: the line reader stops as soon as it is
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            A = np.loadtxt(io.StringIO(text), delimiter=delimiter, comments="#", ndmin=2,
                           skiprows=skip, dtype=np.float64)
    except ValueError:
        return None
    data_lines = sum(1 for line in lines[skip:] if (t := line.strip()) and not t.startswith("#"))
    if A.shape[0] != data_lines or A.size > max_entries or not np.isfinite(A).all():
        return None
    return A


def _parse_text_lines(lines: list, max_entries: int) -> np.ndarray:
    rows, width, header_seen = [], None, False
    for line_no, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c for c in _SPLIT.split(line) if c != ""]
        values = [_number_or_none(cell) for cell in cells]
        if all(v is None for v in values) and not rows and not header_seen:
            header_seen = True  # a header row of column names
            continue
        for col, (cell, v) in enumerate(zip(cells, values), start=1):
            if v is None:
                raise DatasetError(f"has text {cell[:20]!r} at row {line_no}, column {col}")
            if not np.isfinite(v):
                raise NonFiniteError(f"has {cell[:20]} at row {line_no}, column {col}")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ShapeError(f"row {line_no} has {len(values)} values, expected {width}")
        rows.append(values)
        if len(rows) * width > max_entries:
            raise ShapeError(f"has more than {max_entries} entries (the limit)")
    if not rows:
        raise ShapeError("holds no numbers")
    return np.array(rows, dtype=np.float64)


def _check_declared_size(shape, max_entries: int) -> None:
    shape = tuple(int(s) for s in shape)  # Python ints: no overflow on absurd headers, plain in messages
    if math.prod(shape) > max_entries:
        shown = "x".join(str(s) for s in shape)
        raise ShapeError(f"has shape {shown}: more than {max_entries} entries (the limit)")


def _dense_from_sparse(A, max_entries: int) -> np.ndarray:
    _check_declared_size(A.shape, max_entries)
    data = A.tocoo().data
    bad = data.size - int(np.count_nonzero(np.isfinite(data)))
    if bad:
        raise NonFiniteError(f"has {bad} NaN or infinite entries")
    return A.toarray()


def _read_npy_array(array: np.ndarray, max_entries: int) -> np.ndarray:
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating):
        _check_declared_size(array.shape, max_entries)
        return array
    raise ShapeError(f"holds {array.dtype} values, not real numbers")


def _check_npy_header(fileobj, max_entries: int) -> None:
    """Refuse a .npy stream whose header declares more than ``max_entries`` entries.

    NumPy allocates the whole array before reading the data, so a 100-byte file that declares
    a huge shape would otherwise claim that much memory.
    """
    version = np.lib.format.read_magic(fileobj)
    if version == (1, 0):
        shape, _, _ = np.lib.format.read_array_header_1_0(fileobj)
    elif version == (2, 0):
        shape, _, _ = np.lib.format.read_array_header_2_0(fileobj)
    else:
        raise DatasetError(f"uses .npy format version {version[0]}.{version[1]}, which is not read here")
    _check_declared_size(shape, max_entries)


def _read_npz(data: bytes, max_entries: int) -> np.ndarray:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        keys = list(archive.files)
        if {"format", "shape", "data"} <= set(keys):
            fmt = archive["format"].item()
            fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
            _check_declared_size(archive["shape"], max_entries)
    if {"format", "shape", "data"} <= set(keys):
        if fmt not in ("csr", "csc", "bsr", "coo"):
            raise DatasetError(f"holds a scipy sparse {fmt} matrix; save it as csr, csc or coo")
        try:
            A = sp.load_npz(io.BytesIO(data))
            if fmt != "coo":
                # scipy checks little on load: a bad indptr would make toarray() read stray memory
                A.check_format(full_check=True)
        except (ValueError, KeyError, OSError, TypeError, IndexError) as exc:
            raise ShapeError(f"is a broken scipy sparse {fmt} file ({_one_line(exc)})") from None
        return _dense_from_sparse(A, max_entries)
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        if len(keys) == 1:
            key = keys[0]
        elif "X" in keys:
            key = "X"
        else:
            raise ShapeError(f"holds several arrays ({', '.join(keys[:6])}); name the matrix 'X'")
        with archive.zip.open(f"{key}.npy") as member:
            _check_npy_header(member, max_entries)
        return _read_npy_array(archive[key], max_entries)


def _mtx_numbers(tokens: list, what: str) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if _number_or_none(t) is None)
        raise DatasetError(f"has {bad[:20]!r} where {what} should be") from None


def _read_mtx(data: bytes, max_entries: int) -> np.ndarray:
    """Matrix Market (coordinate or array; real, integer or pattern; general, symmetric or
    skew-symmetric), read here rather than by scipy.io.mmread, which crashes the process on some
    damaged files (scipy 1.17.1: a last value followed by junk and no newline)."""
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise DatasetError("is not a Matrix Market file (not ASCII text)") from None
    banner = lines[0].lower().split() if lines else []
    if len(banner) != 5 or banner[:2] != ["%%matrixmarket", "matrix"]:
        raise DatasetError("is not a Matrix Market file (no '%%MatrixMarket matrix' banner)")
    layout, field, symmetry = banner[2:]
    if field == "complex":
        raise ShapeError("holds complex values, not real numbers")
    if layout not in ("coordinate", "array") or field not in ("real", "double", "integer", "pattern") \
            or symmetry not in ("general", "symmetric", "skew-symmetric") \
            or (field == "pattern" and layout == "array"):
        raise DatasetError(f"has an unsupported Matrix Market kind: {layout} {field} {symmetry}")
    body = [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("%")]
    if not body:
        raise DatasetError("has no size line")
    size = body[0].split()
    if len(size) != (3 if layout == "coordinate" else 2) or not all(t.isdigit() for t in size):
        raise DatasetError(f"has a bad size line {body[0][:40]!r}")
    m, n = int(size[0]), int(size[1])
    _check_declared_size((m, n), max_entries)
    if symmetry != "general" and m != n:
        raise DatasetError(f"is marked {symmetry} but is {m}x{n}")
    tokens = " ".join(body[1:]).split()
    A = np.zeros((m, n))
    if layout == "array":
        if symmetry == "general":
            count = m * n
        else:
            count = n * (n + 1) // 2 if symmetry == "symmetric" else n * (n - 1) // 2
        if len(tokens) != count:
            raise DatasetError(f"declares {count} values but holds {len(tokens)}")
        values = _mtx_numbers(tokens, "a number")
        if symmetry == "general":
            return values.reshape(n, m).T.copy()  # column-major
        rows, cols = np.tril_indices(n, 0 if symmetry == "symmetric" else -1)
        order = np.lexsort((rows, cols))  # the file lists the lower triangle column by column
        rows, cols = rows[order], cols[order]
    else:
        nnz = int(size[2])
        width = 2 if field == "pattern" else 3
        if len(tokens) != nnz * width:
            raise DatasetError(f"declares {nnz} entries but holds {len(tokens) / width:g}")
        table = _mtx_numbers(tokens, "an index or a value").reshape(nnz, width)
        index = table[:, :2]
        if np.any(index != np.round(index)) or np.any(index < 1) \
                or np.any(index[:, 0] > m) or np.any(index[:, 1] > n):
            raise DatasetError(f"has an entry index outside 1..{m} x 1..{n}")
        rows, cols = index[:, 0].astype(np.int64) - 1, index[:, 1].astype(np.int64) - 1
        values = np.ones(nnz) if field == "pattern" else table[:, 2]
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise NonFiniteError(f"has {bad} NaN or infinite entries")
    np.add.at(A, (rows, cols), values)  # repeated coordinates add up, as in the format
    if symmetry != "general":
        off = rows != cols
        sign = 1.0 if symmetry == "symmetric" else -1.0
        np.add.at(A, (cols[off], rows[off]), sign * values[off])
    return A


def _read_matrix(filename: str, data: bytes, max_entries: int) -> np.ndarray:
    """Raw 2-D array of a matrix file; NMDError (with the file's name) when it cannot be read."""
    ext = _extension(filename)
    try:
        if not data:
            raise ShapeError("is empty (0 bytes)")
        if ext in (".csv", ".txt"):
            A = _read_text_matrix(data, max_entries)
        elif ext == ".mtx":
            A = _read_mtx(data, max_entries)
        elif ext == ".npz":
            A = _read_npz(data, max_entries)
        else:
            if data[:6] == b"\x93NUMPY":
                _check_npy_header(io.BytesIO(data), max_entries)
            A = _read_npy_array(np.load(io.BytesIO(data), allow_pickle=False), max_entries)
    except NMDError as exc:
        raise type(exc)(f"{filename} {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            if data[:6] == b"\x93NUMPY" or data[:2] == b"PK":
                raise DatasetError(f"{filename} holds Python objects, which are never loaded (no pickle)") from None
            raise DatasetError(f"{filename} is not a NumPy {ext} file") from None
        raise DatasetError(f"{filename} cannot be read as a matrix ({_one_line(exc)})") from None
    except Exception as exc:  # untrusted bytes: any reader failure is this file's problem only
        raise DatasetError(f"{filename} is corrupt or truncated ({_one_line(exc)})") from None
    if A.ndim != 2:
        raise ShapeError(f"{filename} must hold a 2-D matrix, got shape {A.shape}")
    return A


# --------------------------------------------------------------------------- the upload

def _check_files(files) -> list:
    if isinstance(files, (str, bytes)) or not hasattr(files, "__iter__"):
        raise DatasetError("files must be a sequence of (filename, bytes) pairs")
    out = []
    for item in files:
        if (not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], (bytes, bytearray, memoryview))):
            raise DatasetError("files must be a sequence of (filename, bytes) pairs")
        out.append((item[0], bytes(item[1])))
    if not out:
        raise DatasetError("no files were given")
    return out


def _check_limit(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _unsafe_member_name(filename: str) -> str | None:
    """Why a zip member's name is refused (absolute, drive letter, '..' or backslashes), else None.

    Members are never written to disk, but a name that climbs out of the archive is a sign of
    a hostile archive, and a Windows path would not split into folders here.
    """
    if "\\" in filename:
        return "refused: the name holds backslashes (a Windows path)"
    if filename.startswith("/") or re.match(r"^[A-Za-z]:", filename):
        return "refused: an absolute path"
    if ".." in filename.split("/"):
        return "refused: the name climbs out of the archive ('..')"
    return None


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """The bytes of one zip member, inflating no more than its declared size allows.

    Raises _Skip, before or while inflating, when the member declares more than
    :data:`MAX_ZIP_RATIO` times its compressed size or holds more than it declares.
    """
    declared = info.file_size
    if declared > MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise _Skip(f"refused: declares {declared} bytes from {info.compress_size} compressed "
                    f"(more than {MAX_ZIP_RATIO}:1)")
    content, size = bytearray(declared), 0  # filled in place: no list of pieces to join
    try:
        with archive.open(info) as fh:
            # zipfile stops at the declared size but inflates whatever one read asks for before
            # cutting it there: bounded reads keep the work to the declared size
            while True:
                chunk = fh.read(min(_ZIP_CHUNK, declared - size + 1))
                if not chunk:
                    break
                if size + len(chunk) > declared:
                    raise _Skip(f"refused: holds more than the {declared} bytes it declares")
                content[size:size + len(chunk)] = chunk
                size += len(chunk)
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):  # the stream goes on past, or differs from, what the header declares
            raise _Skip(f"refused: its content does not match its declared size of {declared} bytes "
                        "and its checksum") from None
        raise
    if size < declared:
        raise _Skip(f"refused: holds {size} bytes, not the {declared} it declares")
    return content


def _expand(files, max_files: int, max_bytes: int, skipped: list) -> list:
    """Unzip archives; apply the file-count and byte limits; return (name, bytes) to try."""
    items, total = [], 0

    def take(name, data):
        nonlocal total
        if len(items) >= max_files:
            skipped.append((name, f"over the limit of {max_files} files"))
        elif total + len(data) > max_bytes:
            skipped.append((name, f"over the limit of {max_bytes} bytes in all"))
        else:
            total += len(data)
            items.append((name, data))

    for name, data in files:
        if _extension(name) != ".zip":
            take(name, data)
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.infolist()
                for index, info in enumerate(members):
                    member = f"{name}/{info.filename}"
                    if info.is_dir() or info.filename.startswith("__MACOSX/"):
                        continue
                    unsafe = _unsafe_member_name(info.filename)
                    if unsafe:
                        skipped.append((member, unsafe))
                        continue
                    if posixpath.basename(info.filename).startswith("."):
                        continue
                    if _extension(info.filename) == ".zip":
                        skipped.append((member, "archives inside archives are not opened"))
                        continue
                    if info.file_size > max_bytes - total:
                        skipped.append((member, f"unpacks to {info.file_size} bytes, over the limit"))
                        continue
                    try:
                        content = _inflate(archive, info)
                    except _Skip as why:  # a member that lies about its size: trust nothing after it
                        skipped.append((member, str(why)))
                        for rest in members[index + 1:]:
                            if not rest.is_dir():
                                skipped.append((f"{name}/{rest.filename}",
                                                f"not opened: {info.filename} lies about its size"))
                        break
                    except Exception as exc:  # bad CRC, broken deflate stream, encrypted member...
                        skipped.append((member, f"cannot be unpacked ({_one_line(exc)})"))
                        continue
                    take(member, content)
        except Exception as exc:  # untrusted archive: whatever breaks, only this file is lost
            skipped.append((name, f"corrupt zip archive ({_one_line(exc)})"))
    return items


def from_files(files, *, image_shape=None, repair=None, max_files=MAX_FILES,
               max_entries=MAX_ENTRIES, max_bytes=MAX_BYTES, dtype=np.float64) -> Dataset:
    """Build a dataset from uploaded files.

    Images (PNG, JPEG, PGM/PPM/PBM, BMP, TIFF, GIF first frame, also inside .zip archives) become
    grayscale columns of one image set; a single image becomes the matrix itself. A matrix file
    (.npy, .npz dense or scipy sparse, .csv/.txt, .mtx) is used as it is; an upload holds one
    matrix, and images are ignored beside it.

    Only the image formats above are decoded, whatever a file is named; any other is skipped
    with its real format named. A zip member is inflated no further than its declared size
    (and refused unopened when that is over :data:`MAX_ZIP_RATIO` times its compressed size);
    the first member that holds something else than it declares stops the archive, and its
    remaining members are listed as not opened. Members named with ``..``, an absolute path or
    backslashes are listed as refused. A CSV with decimal commas (``1,5;2,5``) is refused.

    Parameters
    ----------
    files : sequence of (str, bytes)
        File names and contents, e.g. from a web upload widget.
    image_shape : (int, int) or None
        None: use the most common image shape and skip the other shapes. ``(h, w)``: resize
        every image to it.
    repair : {None, "clip", "shift", "abs"}
        What to do with negative entries: refuse (None), clip at zero, shift by the minimum,
        take absolute values.
    max_files, max_entries, max_bytes : int
        Limits on the number of files (zip members count), on the entries of the matrix
        (pixels of all images together) and on the bytes of all files after unzipping.
    dtype : float32 or float64

    Returns
    -------
    Dataset
        ``skipped`` lists every file that was not used, with the reason.

    Raises
    ------
    DatasetError
        (or NegativeEntriesError, NonFiniteError, ShapeError, ZeroMatrixError) when nothing
        usable is left.
    """
    files = _check_files(files)
    max_files = _check_limit("max_files", max_files)
    max_entries = _check_limit("max_entries", max_entries)
    max_bytes = _check_limit("max_bytes", max_bytes)
    if repair not in REPAIRS:
        raise DatasetError(f"repair must be one of None, 'clip', 'shift', 'abs'; got {repair!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DatasetError(f"dtype must be float32 or float64, got {dtype}")
    if image_shape is not None:
        try:
            h, w = (int(v) for v in image_shape)
        except (TypeError, ValueError):
            raise DatasetError(f"image_shape must be (height, width), got {image_shape!r}") from None
        if h < 1 or w < 1:
            raise DatasetError(f"image_shape must be positive, got {image_shape!r}")
        image_shape = (h, w)

    skipped: list = []
    items = _expand(files, max_files, max_bytes, skipped)
    matrices = [(n, d) for n, d in items if _extension(n) in MATRIX_EXTENSIONS]
    if matrices:
        return _matrix_upload(items, matrices, skipped, image_shape, repair, max_entries, dtype)
    return _image_upload(items, skipped, image_shape, repair, max_entries, dtype)


def _matrix_upload(items, matrices, skipped, image_shape, repair, max_entries, dtype) -> Dataset:
    first_error = None
    chosen = None
    for name, data in matrices:
        if chosen is not None:
            skipped.append((name, f"an upload holds one matrix; {chosen[0]} was used"))
            continue
        try:
            A = finish_matrix(_read_matrix(name, data, max_entries), what=name, repair=repair, dtype=dtype)
        except NMDError as exc:
            first_error = first_error or exc
            skipped.append((name, str(exc)))
            continue
        chosen = (name, A)
    others = [(n, d) for n, d in items if _extension(n) not in MATRIX_EXTENSIONS]
    if chosen is None:
        if others:  # no matrix can be used: try the rest as images
            return _image_upload(others, skipped, image_shape, repair, max_entries, dtype)
        raise first_error
    for name, _ in others:
        skipped.append((name, "not used: the upload holds a matrix file"))
    name, A = chosen
    symmetric = A.shape[0] == A.shape[1] and np.array_equal(A, A.T)
    return Dataset(X=A, name="upload", skipped=skipped, title=os.path.basename(name),
                   kind="symmetric" if symmetric else "sparse_matrix", source=f"uploaded file {name}", licence="the uploader's",
                   meta={"files": [name], "repair": repair})


def _image_upload(items, skipped, image_shape, repair, max_entries, dtype) -> Dataset:
    images, decoded = [], 0
    for name, data in items:
        ext = _extension(name)
        if not data:
            skipped.append((name, "empty file (0 bytes)"))
            continue
        try:
            image = _decode_image(data, max_entries, max_entries - decoded)
            decoded += image.size
            negative = int(np.count_nonzero(image < 0))
            if negative and repair is None:
                raise _Skip(f"has {negative} negative pixels; choose a repair: clip at zero, shift or absolute value")
            images.append((name, image))
        except _Skip as why:
            reason = str(why)
            if ext not in IMAGE_EXTENSIONS and isinstance(why, _NotAnImage):
                reason = f"unsupported file type {ext or '(no extension)'}"
            skipped.append((name, reason))
    if not images:
        detail = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise DatasetError(f"no usable file in the upload ({detail})" if detail else "no usable file in the upload")

    if image_shape is None:
        counts = Counter(img.shape for _, img in images)
        target = max(counts, key=counts.get)  # most common; ties go to the first seen
        kept = []
        for name, img in images:
            if img.shape == target:
                kept.append((name, img))
            else:
                skipped.append((name, f"shape {img.shape[0]}x{img.shape[1]} differs from the most common "
                                      f"{target[0]}x{target[1]}; pass image_shape to resize"))
    else:
        target = image_shape
        kept = [(n, img if img.shape == target else _resize(img, target)) for n, img in images]

    pixels = target[0] * target[1]
    budget = max(max_entries // pixels, 0)
    for name, _ in kept[budget:]:
        skipped.append((name, f"over the limit of {max_entries} pixels in all"))
    kept = kept[:budget]
    if not kept:
        raise DatasetError(f"no usable image: {target[0]}x{target[1]} images exceed the limit of "
                           f"{max_entries} pixels")
    names = [n for n, _ in kept]
    if len(kept) == 1:
        name, img = kept[0]
        X = finish_matrix(img, what=f"the image {name}", repair=repair, dtype=dtype)
        return Dataset(X=X, name="upload", skipped=skipped, title=os.path.basename(name), kind="image",
                       source=f"uploaded image {name}", licence="the uploader's", meta={"files": names})
    stack = np.stack([img.ravel() for _, img in kept], axis=1)
    X = finish_matrix(stack, what=f"the {len(kept)} uploaded images", repair=repair, dtype=dtype)
    labels, classes = _folder_labels(names)
    return Dataset(X=X, name="upload", image_shape=tuple(target), labels=labels, skipped=skipped,
                   title=f"{len(kept)} uploaded images", kind="image_set", source="uploaded images",
                   licence="the uploader's", meta={"files": names, "classes": classes})


def _natural_key(text: str) -> list:
    """Sort key that puts s2 before s10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _folder_labels(names: list) -> tuple:
    """Class ids from the folders of the images (as in a zip of s1/, s2/, ...), when there are several."""
    folders = [posixpath.dirname(n) for n in names]
    distinct = sorted(set(folders), key=_natural_key)
    if len(distinct) < 2 or "" in distinct:
        return None, None
    index = {folder: i for i, folder in enumerate(distinct)}
    return np.array([index[f] for f in folders]), [posixpath.basename(f) for f in distinct]
