"""Layer 2 — cluster search: the SSD-FL splitting loop and k-way connected clustering, cluster
measures, the set-partitioning solver, and the :class:`Formation` / :class:`Partition` result
types. Imports only ``ssdfl.graphs`` (``docs/architecture.md``)."""
