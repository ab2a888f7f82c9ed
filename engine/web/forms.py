"""The page's form, read from a request body already held in memory.

Nothing is written to disk (Starlette's own form reader spools an upload over 1 MiB to a
temporary file), and the number of fields is bounded. Multipart bodies are split by
python-multipart's streaming parser, the one Starlette uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header

#: Form fields (or multipart parts) read at most.
MAX_FIELDS = 8


class FormError(ValueError):
    """The body is not a form this page sends."""


@dataclass
class Field:
    """One form field: its bytes, and the file name of an upload."""

    data: bytes
    filename: Optional[str] = None


def read_form(content_type: str, body: bytes) -> dict[str, Field]:
    """The fields of a ``multipart/form-data`` or urlencoded body (the first of a repeated name)."""
    ctype, params = parse_options_header(content_type)
    if ctype == b"application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise FormError(f"more than {MAX_FIELDS} form fields") from None
        fields: dict[str, Field] = {}
        for name, value in pairs:
            fields.setdefault(name, Field(value.encode("utf-8")))
        return fields
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise FormError("expected a form body (multipart/form-data or application/x-www-form-urlencoded)")
    return _Multipart(params[b"boundary"]).read(body)


class _Multipart:
    """Collects the parts of one multipart body in memory."""

    def __init__(self, boundary: bytes):
        self.parts: list[tuple[dict[bytes, bytes], list[bytes]]] = []
        self._name = self._value = b""
        callbacks = {
            "on_part_begin": self._begin, "on_part_data": self._data,
            "on_header_field": self._field, "on_header_value": self._header_value, "on_header_end": self._header_end,
        }
        self.parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def read(self, body: bytes) -> dict[str, Field]:
        try:
            self.parser.write(body)
            self.parser.finalize()
        except FormError:
            raise
        except Exception as exc:  # python-multipart's own errors: a malformed body
            raise FormError(f"malformed multipart body: {exc}") from None
        fields: dict[str, Field] = {}
        for headers, chunks in self.parts:
            _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
            name = disposition.get(b"name")
            if name is None:
                continue
            filename = disposition.get(b"filename")
            fields.setdefault(name.decode("utf-8", "replace"),
                              Field(b"".join(chunks), filename.decode("utf-8", "replace") if filename else None))
        return fields

    def _begin(self) -> None:
        if len(self.parts) >= MAX_FIELDS:
            raise FormError(f"more than {MAX_FIELDS} form fields")
        self.parts.append(({}, []))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1][1].append(data[start:end])

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self.parts[-1][0][self._name.lower()] = self._value
        self._name = self._value = b""
