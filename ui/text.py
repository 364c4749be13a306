"""Text from users (file names, zip members, CSV cells) shown safely in Streamlit's markdown."""
from __future__ import annotations

import re

#: Characters with a meaning in Streamlit's markdown: CommonMark's, plus ``:`` (emoji, icons and
#: colour directives such as ``:red[...]``), ``$`` (LaTeX) and ``~``.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|:$~&])")
#: Where Streamlit's markdown turns plain text into links after parsing (``http://``, ``www.``,
#: ``name@host``), which no escape prevents: an invisible word joiner goes there.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def escape_markdown(text) -> str:
    """``text`` on one line, to be read character for character where Streamlit renders markdown.

    Markdown characters are backslash-escaped and links are defused, so a zip member named
    ``![x](https://host/t.png)`` shows as those characters instead of making the browser fetch
    an image or showing a link.
    """
    flat = " ".join(str(text).split())
    return _MARKDOWN.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, flat))
