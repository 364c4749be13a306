"""Uploaded images: the formats read, naming a refused format, decoding to grayscale, resizing."""
from __future__ import annotations

import io
import warnings

import numpy as np

from ._files import _one_line, _Skip

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".pnm", ".bmp", ".tif", ".tiff", ".gif"}
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


class _NotAnImage(_Skip):
    """The file is in none of the image formats read here."""


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
