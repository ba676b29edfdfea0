"""Arrow arrays and scalars of Python values, built from their buffers.

``pa.array``, ``pa.scalar`` and a Python value handed to a compute function all ask first whether
they were given a pandas object, and to ask, pyarrow imports pandas: a quarter of a second and
about 35 MB, once per process, that the columnar import has no other use for (a 30,000-row
purchases file takes about a second in all). The columnar code builds every array and scalar of
its own values with these functions instead; ``tests/core/test_columnar_customers.py`` and
``tests/core/test_columnar_import.py`` check that an import leaves pandas unimported.
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Iterable


def strings(pa, values: Iterable[str | None]):
    """A string array of ``values`` (None is null). About 0.1 s a million values, four times
    ``pa.array``'s time once pandas is imported: for the columnar code's own few values, not for
    a file's columns."""
    values = list(values)
    nulls = _validity(pa, values)
    if nulls is not None:
        values = ["" if value is None else value for value in values]
    text = "".join(values)
    data = text.encode()
    # As many bytes as characters: all ASCII, each value's length is its size.
    sizes = map(len, values) if len(data) == len(text) else (len(value.encode()) for value in values)
    offsets = array("i", accumulate(sizes, initial=0))
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data), nulls)


def int64s(pa, values: Iterable[int | None]):
    """An int64 array of ``values`` (None is null)."""
    values = list(values)
    nulls = _validity(pa, values)
    data = array("q", [0 if value is None else value for value in values] if nulls is not None else values)
    return pa.Array.from_buffers(pa.int64(), len(data), [nulls, pa.py_buffer(data)])


def falses(pa, count: int):
    """A boolean array of ``count`` False values."""
    return pa.Array.from_buffers(pa.bool_(), count, [None, pa.py_buffer(bytes((count + 7) // 8))])


def string(pa, value: str):
    """A string scalar."""
    return strings(pa, [value])[0]


def int64(pa, value: int):
    """An int64 scalar."""
    return int64s(pa, [value])[0]


def _validity(pa, values: list):
    """The validity bitmap of ``values`` (a bit set for each value that is not None), or None
    when none is None."""
    if None not in values:
        return None
    bits = bytearray((len(values) + 7) // 8)
    for index, value in enumerate(values):
        if value is not None:
            bits[index >> 3] |= 1 << (index & 7)
    return pa.py_buffer(bytes(bits))
