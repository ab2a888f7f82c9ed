"""HTML bodies to readable text (html.parser, size-bounded, unclosed tags read as text)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from ..limits import MAX_HTML_CHARS


class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")
        elif tag == "td":
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


#: A ``<`` that no ``>`` closes before the next ``<`` (within 1,024 characters) is read as
#: text: html.parser backtracks quadratically on runs of unclosed tags and comments.
_UNCLOSED_TAG = re.compile(r"<(?![^<>]{0,1024}>)")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (block elements become line breaks)."""
    conv = _HtmlText()
    try:
        conv.feed(_UNCLOSED_TAG.sub("&lt;", html[:MAX_HTML_CHARS]))
        conv.close()
    except Exception:
        pass
    lines = (" ".join(line.split()) for line in "".join(conv.out).split("\n"))
    return "\n".join(line for line in lines if line)
