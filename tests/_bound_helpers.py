"""Shared helpers of the bound tests: exact expected gaps from exact moments (public now:
:func:`ssdfl.theory.verify.expected_gaps`; re-exported here for the tests)."""

from __future__ import annotations

from ssdfl.theory.verify import expected_gaps

__all__ = ["expected_gaps"]
