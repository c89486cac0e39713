"""Layer 1 — graph basics: the :class:`Graph` type and its interop, graph files, cut metrics,
spectra, Cheeger constants, mixing matrices and fastest-mixing weights, formation plots.
Imports nothing above itself (``docs/architecture.md``)."""

from ssdfl._lazy import attach

# submodules load on first attribute access (``ssdfl.graphs.<module>``), as if imported eagerly
__getattr__, __dir__ = attach(__name__, {})
