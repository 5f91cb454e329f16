"""Merging many small PDFs into one file as they come, in constant memory.

A print batch holds thousands of notices. Building the merged document in
memory grows with every page, so this writer copies each notice's pages
(and everything they refer to) straight to the output file, renumbering the
objects, and keeps only each object's file offset and the page numbers until
it writes the page tree, the cross-reference table and the trailer at the
end. Each notice is parsed with pikepdf and let go before the next.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import BinaryIO

import pikepdf

#: Inheritable page attributes copied onto each page, so pages need nothing from their old tree.
INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
CATALOG, PAGES = 1, 2


class StreamingMerger:
    """Write pages of many PDFs into one PDF file, one source at a time."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_number = PAGES + 1
        self.position = 0
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    @property
    def page_count(self) -> int:
        """Pages written so far."""
        return len(self.pages)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def _allocate(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number

    def _begin(self, number: int) -> None:
        self.offsets[number] = self.position
        self._write(f"{number} 0 obj\n".encode())

    def add(self, pdf: bytes) -> int:
        """Append every page of a PDF; returns how many pages it had."""
        with pikepdf.open(io.BytesIO(pdf)) as source:
            numbers: dict[tuple[int, int], int] = {}
            pending: list[pikepdf.Object] = []
            count = 0
            for page in source.pages:
                page_obj = page.obj
                inherited = {key: page_obj.get(key) for key in INHERITED}
                for key in INHERITED:
                    if inherited[key] is None:
                        value = _inherited(page_obj, key)
                        if value is not None:
                            inherited[key] = value
                number = self._allocate()
                body = self._dictionary(page_obj, numbers, pending, skip={"/Parent", *INHERITED})
                extra = b"".join(
                    b" " + key.encode() + b" " + self._value(value, numbers, pending)
                    for key, value in inherited.items()
                    if value is not None
                )
                self._begin(number)
                self._write(b"<<" + body + extra + f" /Parent {PAGES} 0 R>>\nendobj\n".encode())
                self.pages.append(number)
                count += 1
                self._drain(numbers, pending)
            return count

    def add_blank(self, width: float, height: float) -> None:
        """Append an empty page (the back of a one-sided notice in a duplex batch)."""
        number = self._allocate()
        self._begin(number)
        self._write(
            f"<</Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {width:g} {height:g}]"
            " /Resources <<>>>>\nendobj\n".encode()
        )
        self.pages.append(number)

    def close(self) -> None:
        """Write the page tree, the catalog, the cross-reference table and the trailer."""
        kids = " ".join(f"{n} 0 R" for n in self.pages)
        self._begin(PAGES)
        self._write(f"<</Type /Pages /Kids [{kids}] /Count {len(self.pages)}>>\nendobj\n".encode())
        self._begin(CATALOG)
        self._write(f"<</Type /Catalog /Pages {PAGES} 0 R>>\nendobj\n".encode())
        start = self.position
        size = self.next_number
        lines = [f"xref\n0 {size}\n", "0000000000 65535 f \n"]
        lines += [f"{self.offsets[n]:010d} 00000 n \n" for n in range(1, size)]
        lines.append(f"trailer\n<</Size {size} /Root {CATALOG} 0 R>>\nstartxref\n{start}\n%%EOF\n")
        self._write("".join(lines).encode())

    def _drain(self, numbers: dict, pending: list) -> None:
        """Write the objects the pages referred to (and what those refer to)."""
        while pending:
            obj = pending.pop()
            number = numbers[obj.objgen]
            if isinstance(obj, pikepdf.Stream):
                raw = obj.read_raw_bytes()
                body = self._dictionary(obj.stream_dict, numbers, pending, skip={"/Length"})
                self._begin(number)
                self._write(
                    b"<<"
                    + body
                    + f" /Length {len(raw)}>>\nstream\n".encode()
                    + raw
                    + b"\nendstream\nendobj\n"
                )
            else:
                self._begin(number)
                self._write(self._value(obj, numbers, pending, direct=True) + b"\nendobj\n")

    def _reference(self, obj: pikepdf.Object, numbers: dict, pending: list) -> bytes:
        key = obj.objgen
        if key not in numbers:
            numbers[key] = self._allocate()
            pending.append(obj)
        return f"{numbers[key]} 0 R".encode()

    def _value(
        self, obj: pikepdf.Object, numbers: dict, pending: list, *, direct: bool = False
    ) -> bytes:
        if not direct and getattr(obj, "is_indirect", False):
            return self._reference(obj, numbers, pending)
        if isinstance(obj, pikepdf.Dictionary):
            return b"<<" + self._dictionary(obj, numbers, pending) + b">>"
        if isinstance(obj, pikepdf.Array):
            return b"[" + b" ".join(self._value(item, numbers, pending) for item in obj) + b"]"
        return obj.unparse() if isinstance(obj, pikepdf.Object) else _scalar(obj)

    def _dictionary(
        self, obj, numbers: dict, pending: list, *, skip: set[str] = frozenset()
    ) -> bytes:
        parts = []
        for key in obj:
            if key in skip:
                continue
            parts.append(key.encode() + b" " + self._value(obj[key], numbers, pending))
        return b" ".join(parts)


def _inherited(page: pikepdf.Dictionary, key: str):
    """An inheritable attribute from the page's ancestors, or None."""
    node = page.get("/Parent")
    while node is not None:
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


def _scalar(value) -> bytes:
    """A value pikepdf hands back as a Python one: null, a boolean, an integer or a real."""
    if value is None:
        return b"null"
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    return format(Decimal(value), "f").encode()
