"""Layer 3 — theory: device models and data, local optimizers, the devices file, effective
losses, heterogeneity scores, the Lemma/Theorem bounds and exact reference recursions.
Imports only the graph and cluster layers (``docs/architecture.md``)."""
