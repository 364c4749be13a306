"""Text from users (file names, zip members, CSV cells) shown safely in Streamlit's markdown."""
from __future__ import annotations

import re

#: Characters with a meaning in Streamlit's markdown: CommonMark's, plus ``:`` (emoji, icons and
#: colour directives such as ``:red[...]``), ``$`` (LaTeX) and ``~``.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|:$~&])")


def escape_markdown(text) -> str:
    """``text`` with every markdown character backslash-escaped, on one line.

    A zip member named ``![x](https://host/t.png)`` then shows as those characters instead of
    making the browser fetch an image.
    """
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
