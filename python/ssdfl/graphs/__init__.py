"""Layer 1 — graph basics: the :class:`Graph` type and its interop, graph files, cut metrics,
spectra, Cheeger constants, mixing matrices and fastest-mixing weights, formation plots.
Imports nothing above itself (``docs/architecture.md``)."""
