"""Bridge from a devices file (:class:`ssdfl.theory.devices.DeviceTable`) to the simulator."""

from __future__ import annotations

from ssdfl.theory.devices import DeviceTable
from ssdfl.theory.optimizers import OptimizerPopulation

__all__ = ["population_from_devices"]


def population_from_devices(devices: DeviceTable) -> OptimizerPopulation:
    """One optimizer per row, built through the registry
    (:data:`ssdfl.theory.optimizers.OPTIMIZERS`; :meth:`DeviceTable.population`). Per-device
    step sizes are ``devices.step_sizes(eta)`` (pass them as ``simulate(..., eta=...)``)."""
    return devices.population()
