"""What a columnar import's check pass converted, kept for its write pass.

The check pass converts each chunk's plain lines to the columns they are stored in: customer
references resolved to ids, times as storage text, amounts in integer minor units (a customers
import keeps the checked text columns of its new customers). The write
pass stores exactly those rows, in file order, with the lines the row path checked (and staged)
among them: it neither reads the file again nor checks a value twice (at a million purchases the
second reading and checking took about a second), and the rows written are the rows checked even
if the file changes meanwhile. The columns wait in a scratch Arrow IPC file (compressed, deleted
when closed), so memory holds one chunk at a time whatever the file's size.
"""

from __future__ import annotations

import tempfile
from typing import Any, Iterator, NamedTuple


class CheckedChunk(NamedTuple):
    """One chunk as the check pass left it, for the write pass.

    ``row_path_lines`` is the first and last line number of the lines the row path checked
    (and staged) in it, or None when it has none. When ``whole`` the row path checked every
    line of the chunk; else ``converted`` holds its other rows (a record batch of the columns'
    schema, with their line numbers), or is None when it has no other rows.
    """

    whole: bool
    converted: Any
    row_path_lines: tuple[int, int] | None


class CheckedChunks:
    """The chunks of one check pass, in file order (see the module's docstring)."""

    def __init__(self, pa, schema):
        self._pa = pa
        self._file = tempfile.TemporaryFile(prefix="crmkit-import-")
        # LZ4 takes the file to about the CSV's size (1M purchases: 32 MB, 86 MB without) for
        # no time that shows in the import.
        compression = "lz4" if pa.Codec.is_available("lz4") else None
        self._writer = pa.ipc.new_stream(self._file, schema, options=pa.ipc.IpcWriteOptions(compression=compression))
        self._chunks: list[tuple[bool, bool, tuple[int, int] | None]] = []  # whole, converted, lines

    def add_converted(self, batch, row_path_lines: tuple[int, int] | None) -> None:
        """A chunk whose plain rows were converted (``batch``; None when it has none)."""
        if batch is not None:
            self._writer.write_batch(batch)
        self._chunks.append((False, batch is not None, row_path_lines))

    def add_row_path(self, first: int, last: int) -> None:
        """A chunk, lines ``first`` to ``last``, that the row path checked whole."""
        self._chunks.append((True, False, (first, last)))

    @property
    def row_path_checked(self) -> bool:
        """Whether the row path checked any line of any chunk."""
        return any(lines is not None for _, _, lines in self._chunks)

    def __iter__(self) -> Iterator[CheckedChunk]:
        """The chunks in file order, their converted rows read back one batch at a time (once:
        the check pass is over)."""
        self._writer.close()
        self._file.seek(0)
        reader = self._pa.ipc.open_stream(self._file) if any(converted for _, converted, _ in self._chunks) else None
        for whole, converted, lines in self._chunks:
            yield CheckedChunk(whole, reader.read_next_batch() if converted else None, lines)

    def close(self) -> None:
        """Delete the scratch file."""
        self._file.close()
