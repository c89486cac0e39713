"""Cluster formations for the simulator: the names it uses for labels, random connected
partitions (cSTC) and block-diagonal intra-cluster mixing.

A formation is given as ``(N,)`` integer labels (cluster id per device), a list of node-index
arrays, or any object with a ``labels`` or ``clusters`` attribute (e.g. the cluster search's
``Formation``); :func:`cluster_labels` turns each into labels ``0..S-1`` numbered by first
appearance. The functions are defined below the engines and re-exported here:
:mod:`ssdfl.clusters.labels` (``cluster_labels``), :mod:`ssdfl.clusters.partitions`
(``random_connected_partition``, ``form_clusters``), :mod:`ssdfl.graphs.mixing`
(``cluster_mixing`` = ``block_mixing_matrix``).
"""

from __future__ import annotations

from ssdfl.clusters.labels import cluster_labels
from ssdfl.clusters.partitions import form_clusters, random_connected_partition
from ssdfl.graphs.mixing import block_mixing_matrix

__all__ = [
    "cluster_labels",
    "cluster_mixing",
    "form_clusters",
    "random_connected_partition",
]


cluster_mixing = block_mixing_matrix
"""Alias of :func:`ssdfl.graphs.mixing.block_mixing_matrix` (the simulator's name for it)."""
