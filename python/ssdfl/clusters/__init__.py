"""Layer 2 — cluster search: the SSD-FL splitting loop and k-way connected clustering, cluster
measures, the set-partitioning solver, and the :class:`Formation` / :class:`Partition` result
types. Imports only ``ssdfl.graphs`` (``docs/architecture.md``)."""

from ssdfl._lazy import attach

# submodules load on first attribute access (``ssdfl.clusters.<module>``), as if imported eagerly
__getattr__, __dir__ = attach(__name__, {})
