"""Uploaded zip archives -> their members, with bounded inflation and unsafe member names refused."""
from __future__ import annotations

import io
import posixpath
import re
import zipfile

from ._files import _extension, _one_line, _Skip

#: Inflating a zip member stops when it exceeds its declared size, and a member whose declared
#: size is more than this many times its compressed size is refused unopened. Deflate cannot
#: compress better than about 1032:1, so honest deflated members always pass.
MAX_ZIP_RATIO = 1100
#: Bytes read from a zip member at a time: zipfile inflates at most this much per call.
_ZIP_CHUNK = 4 << 20


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
