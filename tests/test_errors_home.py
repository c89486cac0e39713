"""Every exception and warning class ssdfl defines lives in :mod:`ssdfl.errors` (issue 23):
one place to find what can be caught. Old import paths still work (re-exports)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ssdfl
import ssdfl.errors

HOMES = {"ssdfl.errors", "ssdfl._core", "builtins"}


def _modules() -> list[str]:
    names = ["ssdfl"]
    for info in pkgutil.walk_packages(ssdfl.__path__, "ssdfl."):
        if info.name.startswith("ssdfl.cli.__main__"):
            continue
        names.append(info.name)
    return names


def test_every_exception_class_is_defined_in_ssdfl_errors() -> None:
    stray = []
    for name in _modules():
        try:
            mod = importlib.import_module(name)
        except ImportError as e:  # an optional dependency (flwr, dask) is not installed
            cause = e.__cause__ or e.__context__
            missing = e.name or getattr(cause, "name", None)
            assert missing is not None and not missing.startswith("ssdfl"), e
            continue
        for attr, obj in vars(mod).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith("ssdfl")
                and obj.__module__ not in HOMES
            ):
                stray.append(f"{name}.{attr} (defined in {obj.__module__})")
    assert not stray, "exception classes outside ssdfl.errors: " + ", ".join(sorted(set(stray)))


def test_every_ssdfl_exception_class_is_listed_by_ssdfl_errors() -> None:
    # Each class ssdfl.errors defines or re-exports from _core is in its __all__ and in the
    # package face.
    for attr, obj in vars(ssdfl.errors).items():
        if inspect.isclass(obj) and issubclass(obj, BaseException | Warning):
            if obj.__module__ in {"ssdfl.errors", "ssdfl._core"}:
                assert attr in ssdfl.errors.__all__, attr


def test_old_import_paths_still_name_the_same_classes() -> None:
    from ssdfl.planner.estimate import PlanTooLargeError
    from ssdfl.planner.formation_io import FormationFileError
    from ssdfl.planner.pilot import ProxyDataError
    from ssdfl.planner.repair import FormationUpdateError

    assert PlanTooLargeError is ssdfl.errors.PlanTooLargeError
    assert FormationFileError is ssdfl.errors.FormationFileError
    assert ProxyDataError is ssdfl.errors.ProxyDataError
    assert FormationUpdateError is ssdfl.errors.FormationUpdateError
    assert issubclass(FormationUpdateError, FormationFileError)
