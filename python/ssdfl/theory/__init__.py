"""Layer 3 — theory: device models and data, local optimizers, the devices file, effective
losses, heterogeneity scores, the Lemma/Theorem bounds and exact reference recursions.
Imports only the graph and cluster layers (``docs/architecture.md``)."""

from ssdfl._lazy import attach

# submodules load on first attribute access (``ssdfl.theory.<module>``), as if imported eagerly
__getattr__, __dir__ = attach(__name__, {})
