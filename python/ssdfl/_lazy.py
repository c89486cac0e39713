"""Lazy public names for a package ``__init__`` (PEP 562), so that ``import ssdfl`` loads only
what a public name needs, when it is first used (``docs/performance.md``, "Import time").

A package lists its exports as ``{name: defining module}``; :func:`attach` returns the module's
``__getattr__`` and ``__dir__``. The first access imports the defining module, and the value is
stored in the package's namespace, so later accesses are plain attribute lookups. A submodule
is imported on first attribute access too (``ssdfl.graphs.spectral.fiedler_pair`` after
``import ssdfl`` works as when every layer was imported eagerly).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exports(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``{module: names}`` → ``{name: module}``; a name listed twice is a programming error."""
    out: dict[str, str] = {}
    for module, names in table.items():
        for name in names:
            if name in out:
                raise RuntimeError(f"{name!r} exported from both {out[name]} and {module}")
            out[name] = module
    return out


def attach(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose lazy public ``names`` map to the module
    defining each one."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            if not name.startswith("__"):  # a submodule, as when the package imported it eagerly
                try:
                    return importlib.import_module(f"{package}.{name}")
                except ModuleNotFoundError as e:
                    if e.name != f"{package}.{name}":
                        raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
