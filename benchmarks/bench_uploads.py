"""Cost of reading uploads: ``python -m benchmarks.bench_uploads [--quick | --smoke]``.

Three measurements of :func:`nmdcore.datasets.from_files`, each next to a bound measured in the
same run:

- a CSV matrix (2000×784, MNIST-like): seconds against ``np.loadtxt`` on the same text and
  against the line-by-line reader that names bad cells (what every CSV went through before);
- a zip whose member declares 10 bytes but inflates to 300 MB (19 of them in a 5.8 MB zip):
  CPU seconds and peak traced memory, against reading the zip's bytes at all;
- the largest upload the default limits accept, a zip of one 5000×5000 sparse float64 .npy
  (25 million entries): seconds and peak traced memory in units of X itself.

Peak memory is what ``tracemalloc`` sees (NumPy and Python allocations), not the RSS.
"""
from __future__ import annotations

import argparse
import io
import struct
import sys
import time
import tracemalloc
import zipfile

import numpy as np

from nmdcore.datasets import from_files
from nmdcore.datasets._matrices import _parse_text_lines


def lying_zip(real_size: int, declared: int, *, members: int = 1, after: tuple = (), after_data: bytes = b"") -> bytes:
    """A zip of ``members`` members that each inflate to ``real_size`` bytes (zeros) but declare
    ``declared`` in both headers; then honest members named ``after`` holding ``after_data``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(members):
            info = zipfile.ZipInfo(f"x{k}.npy" if members > 1 else "x.npy")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as fh:
                block = bytes(2**20)
                for _ in range(real_size // 2**20):
                    fh.write(block)
        for name in after:
            zf.writestr(name, after_data)
    data = bytearray(buf.getvalue())
    offset = 0
    for _ in range(members):  # local headers: uncompressed size at +22
        offset = data.find(b"PK\x03\x04", offset)
        struct.pack_into("<I", data, offset + 22, declared)
        offset += 4
    offset = 0
    for _ in range(members):  # central directory entries: uncompressed size at +24
        offset = data.find(b"PK\x01\x02", offset)
        struct.pack_into("<I", data, offset + 24, declared)
        offset += 4
    return bytes(data)


def measured(call, trace: bool = False) -> tuple[float, float, int, object]:
    """(wall seconds, CPU seconds, peak traced bytes, result or the exception raised) of ``call()``.

    With ``trace`` the call runs twice: timed untraced, then under ``tracemalloc`` for the peak
    (tracing slows allocation-heavy Python code several times over).
    """
    def once():
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - refusals are results here
            return exc

    wall, cpu = time.perf_counter(), time.process_time()
    out = once()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = 0
    if trace:
        tracemalloc.start()
        once()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return wall, cpu, peak, out


def csv_case(rows: int, cols: int) -> list[str]:
    rng = np.random.default_rng(0)
    A = np.round(np.maximum(0, rng.standard_normal((rows, cols))) * (rng.random((rows, cols)) < 0.2) * 255) / 255
    buf = io.StringIO()
    np.savetxt(buf, A, delimiter=",", fmt="%.17g")
    text = buf.getvalue()
    data = text.encode()
    upload, _, _, ds = measured(lambda: from_files([("m.csv", data)]))
    assert np.array_equal(ds.X, A)
    bound, _, _, _ = measured(lambda: np.loadtxt(io.StringIO(text), delimiter=","))
    lines, _, _, _ = measured(lambda: _parse_text_lines(text.splitlines(), 10**8))
    return [f"CSV {rows}x{cols} ({len(data) / 2**20:.1f} MB): from_files {upload:.3f} s, np.loadtxt {bound:.3f} s "
            f"(ratio {upload / bound:.2f}); the line reader alone {lines:.3f} s ({lines / upload:.1f}x from_files)"]


def lying_case(members: int, member_mb: int = 300) -> list[str]:
    data = lying_zip(member_mb * 2**20, 10, members=members)
    read, _, _, _ = measured(lambda: bytes(data))
    wall, cpu, peak, out = measured(lambda: from_files([("lying.zip", data)]), trace=True)
    assert isinstance(out, Exception), "a lying zip was accepted"
    return [f"lying zip ({members} members of {member_mb} MB declaring 10 B, {len(data) / 2**20:.1f} MB): "
            f"{cpu:.4f} s CPU ({wall:.4f} s wall), peak {peak / 2**20:.2f} MB traced "
            f"(copying its bytes once: {read:.4f} s); refused: {str(out)[:90]}..."]


def largest_case(side: int) -> list[str]:
    rng = np.random.default_rng(1)
    X = np.zeros((side, side))
    hits = rng.integers(0, side * side, size=side * 20)
    X.flat[hits] = rng.random(hits.size)
    buf = io.BytesIO()
    np.save(buf, X)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.npy", buf.getvalue())
    data = zbuf.getvalue()
    del buf
    wall, cpu, peak, ds = measured(lambda: from_files([("big.zip", data)]), trace=True)
    assert np.array_equal(ds.X, X)
    return [f"largest accepted upload: zip of a {side}x{side} float64 .npy ({len(data) / 2**20:.2f} MB compressed, "
            f"X {X.nbytes / 2**20:.0f} MB): {wall:.2f} s wall, {cpu:.2f} s CPU, peak {peak / 2**20:.0f} MB traced "
            f"= {peak / X.nbytes:.2f} X"]


#: (CSV rows, CSV columns, lying members, MB each, side of the largest upload) of each size.
SIZES = {"full": (2000, 784, 19, 300, 5000), "quick": (500, 200, 2, 300, 1000), "smoke": (40, 10, 2, 4, 100)}


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_uploads", description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller inputs (seconds)")
    size.add_argument("--smoke", action="store_true", help="tiny inputs (for the tests)")
    args = parser.parse_args(argv)
    rows, cols, members, member_mb, side = SIZES["smoke" if args.smoke else "quick" if args.quick else "full"]
    lines = csv_case(rows, cols) + lying_case(members, member_mb) + largest_case(side)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
    sys.exit(0)
