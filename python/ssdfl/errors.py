"""Exception and warning classes of ssdfl.

Every error ssdfl raises on bad input is a ``ValueError`` subclass (``SsdflError``) or a
standard ``FileNotFoundError`` / ``TypeError``; a Rust panic never reaches the user.
"""

from __future__ import annotations

from ssdfl._core import DisconnectedGraphError, GraphFormatError, SsdflError, TooLargeError


class SsdflWarning(UserWarning):
    """Something was ignored or adjusted (e.g. self-loops dropped)."""


class InfeasibleError(SsdflError):
    """An optimization problem has no feasible solution."""


class OutputPathError(SsdflError):
    """An output path (``--out``) cannot take the output: a symbolic link, under ``/proc``,
    not writable, of the wrong kind, or a folder holding files ssdfl did not write."""


class ConfigError(SsdflError):
    """An input file's or table's values break its documented rules (docs/reliability.md):
    the message names the file, the key or column, the value and the rule."""


# Devices files (ssdfl.theory.devices).


class DeviceFileError(SsdflError):
    """A malformed devices description (the message names the row and the column; for a file
    it starts with the file's path and line)."""


# Aggregation (ssdfl.aggregation): stores, reductions, functions, the pipeline.


class MemoryCapError(SsdflError):
    """The function exceeded (or could not even start under) its memory cap."""


class NonFiniteUpdateError(SsdflError):
    """A client update contains NaN or ±inf (FedAvg of it would be meaningless).

    Attributes: ``client`` (name or ``#index``), ``element`` (flat index), ``value``."""

    def __init__(self, message: str, client: str = "", element: int = -1, value: float = 0.0):
        super().__init__(message)
        self.client, self.element, self.value = client, element, value


class WeightError(SsdflError):
    """Weights that are negative, non-finite, all zero, or spread over more than 2^64."""


class PartialSumError(SsdflError):
    """An exact partial sum is not a valid encoding (attributes ``which`` and ``fault``)."""

    def __init__(self, message: str, which: int = -1, fault: str = ""):
        super().__init__(message)
        self.which, self.fault = which, fault


class MissingObjectError(SsdflError, FileNotFoundError):
    """A required object does not exist in the store."""


class TruncatedObjectError(SsdflError):
    """An object is shorter (or longer) than its header says, or its header is unreadable."""


class IntegrityError(SsdflError):
    """An object's bytes do not match its checksum (corrupted), or it has no checksum."""


class ObjectExistsError(SsdflError, FileExistsError):
    """An exclusive PUT found its key already taken (another writer used the same name)."""


class AggregationError(SsdflError):
    """One or more aggregation functions failed; nothing was published."""


# Planner (ssdfl.planner): formation files, size limits, proxy data.


class FormationFileError(SsdflError):
    """A ``formation.json`` that is not a valid formation (or does not fit the graph)."""


class FormationUpdateError(FormationFileError):
    """A bad ``--update`` input (old formation file, node names)."""


class PlanTooLargeError(SsdflError):
    """The graph exceeds a planner size limit (``PlanConfig.max_edges``); raised before any
    work, with the estimate and the parameter that raises the limit."""


class ProxyDataError(SsdflError):
    """The built-in data set cannot realise the devices' proxy data (e.g. more devices than
    its samples allow): the choice then falls back to the analytic prediction and says why."""


__all__ = [
    "AggregationError",
    "ConfigError",
    "DeviceFileError",
    "DisconnectedGraphError",
    "FormationFileError",
    "FormationUpdateError",
    "GraphFormatError",
    "InfeasibleError",
    "IntegrityError",
    "MemoryCapError",
    "MissingObjectError",
    "NonFiniteUpdateError",
    "ObjectExistsError",
    "OutputPathError",
    "PartialSumError",
    "PlanTooLargeError",
    "ProxyDataError",
    "SsdflError",
    "SsdflWarning",
    "TooLargeError",
    "TruncatedObjectError",
    "WeightError",
]
