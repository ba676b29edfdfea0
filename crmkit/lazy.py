"""Package attributes imported on first use, so that importing a package stays cheap."""

from __future__ import annotations

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
