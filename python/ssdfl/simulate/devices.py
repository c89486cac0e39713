"""Bridge from a devices file (:class:`ssdfl.theory.devices.DeviceTable`) to the simulator."""

from __future__ import annotations

from ssdfl.errors import SsdflError
from ssdfl.theory.devices import DeviceTable
from ssdfl.theory.optimizers import (
    SGD,
    Adam,
    LocalOptimizer,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
)

__all__ = ["population_from_devices"]


def population_from_devices(devices: DeviceTable) -> OptimizerPopulation:
    """One optimizer per row: ``sgd`` → :class:`SGD`, ``prox`` → ``ProxSGD(mu)``,
    ``momentum`` → ``MomentumSGD(rho)``, ``adam`` → :class:`Adam` (defaults). Per-device step
    sizes are ``devices.step_sizes(eta)`` (pass them as ``simulate(..., eta=...)``)."""
    opts: list[LocalOptimizer] = []
    for i, kind in enumerate(devices.optimizer):
        if kind == "sgd":
            opts.append(SGD())
        elif kind == "prox":
            opts.append(ProxSGD(float(devices.mu[i])))
        elif kind == "momentum":
            opts.append(MomentumSGD(float(devices.rho[i])))
        elif kind == "adam":
            opts.append(Adam())
        else:
            raise SsdflError(f"device {i}: unknown optimizer {kind!r}")
    return OptimizerPopulation(opts)
