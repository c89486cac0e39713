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


__all__ = [
    "DisconnectedGraphError",
    "GraphFormatError",
    "InfeasibleError",
    "SsdflError",
    "SsdflWarning",
    "TooLargeError",
]
