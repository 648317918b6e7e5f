"""Writing zips as streaming writers do, for the archive tests."""

from __future__ import annotations

import io


class Unseekable(io.RawIOBase):
    """A write-only stream over ``sink``: zipfile then writes each member's sizes after its
    data (a data descriptor, flag bit 3), as it does into a pipe."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.sink.write(data)
