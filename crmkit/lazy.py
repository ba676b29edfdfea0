"""Things made on first use: package attributes imported when first read, so that importing a
package stays cheap, and a batch's records built when first read, so that a hook that needs few
of them pays for few."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import Any, Callable


def lazy_exports(namespace: dict[str, Any], where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__`` for the public names in ``where``
    (name → submodule): each name's submodule is imported when the name is first read, and the
    value is kept in the package's ``namespace`` so later reads are plain lookups.

    Use: ``__getattr__, __dir__ = lazy_exports(globals(), {"Report": "assembly"})``.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__


class BuiltOnRead(Sequence):
    """``count`` items, item ``i`` made by ``build_one(i)`` when first read and kept.

    For the records a batch event carries (a bulk write makes many; a plugin that reads the first
    and last id pays for two). ``build_all()``, when given, makes every item at once for an
    iteration (a bulk builder can share work between items, such as parsing each distinct time
    once).
    """

    def __init__(self, count: int, build_one: Callable[[int], Any], build_all: Callable[[], list] | None = None):
        self._count = count
        self._build_one = build_one
        self._build_all = build_all
        self._built: dict[int, Any] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        index = range(self._count)[index]  # a negative index counts from the end; out of range: IndexError
        item = self._built.get(index)
        if item is None:
            item = self._built[index] = self._build_one(index)
        return item

    def __iter__(self):
        if self._build_all is None or len(self._built) == self._count:
            return (self[i] for i in range(self._count))
        self._built = dict(enumerate(self._build_all()))
        return iter(self._built.values())
