"""What the upload readers share: the per-file refusal, a file's extension, an error in one line."""
from __future__ import annotations

import os


class _Skip(Exception):
    """This one file cannot be used; the message is the reason shown to the user."""


def _extension(filename: str) -> str:
    return os.path.splitext(filename)[1].lower()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
