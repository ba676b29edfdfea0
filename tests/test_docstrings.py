"""Every public function, class and method of crmkit, its plugins and its extension has a
docstring (hook implementations are documented by their hookspec instead)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ["crmkit", "crmkit_leads", "crmkit_loyalty", "crmkit_complaints", "crmkit_reports", "crmkit_jupyter", "crmkit_api"]
DUNDER_OK = {"__init__", "__call__"}


def public_modules():
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if any(part.startswith("_") for part in info.name.split(".")[1:]):
                continue
            yield importlib.import_module(info.name)


def undocumented():
    missing = []
    for module in public_modules():
        for name, item in vars(module).items():
            if name.startswith("_") or name.startswith("crmkit_") or getattr(item, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(item) and not inspect.getdoc(item):
                missing.append(f"{module.__name__}.{name}")
            elif inspect.isclass(item):
                if not item.__doc__:
                    missing.append(f"{module.__name__}.{name}")
                for attr, member in vars(item).items():
                    if attr.startswith("_") or not inspect.isfunction(member):
                        continue
                    if not inspect.getdoc(member):
                        missing.append(f"{module.__name__}.{name}.{attr}")
    return missing


def test_public_api_has_docstrings():
    missing = undocumented()
    assert not missing, f"{len(missing)} public objects lack a docstring:\n" + "\n".join(missing)
