"""The initialization protocol with the planner as every device's formation algorithm.

:func:`ssdfl.simulate.protocol.simulate_flooding` floods the devices' records message by
message; here each record carries the device's row of the devices file (optimizer, coefficients,
step size, data size, label histogram or gradient statistics) and every device, once it holds
all records, rebuilds the devices table and runs :func:`~ssdfl.planner.plan.plan_formation` on
its own view. :func:`initialization_agreement` reports whether all devices computed the same
formation, and what the protocol cost (see ``docs/churn.md``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ssdfl.clusters.flooding import record_bytes
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.simulate.protocol import FloodingResult, ProtocolView, simulate_flooding
from ssdfl.theory.devices import DeviceTable, homogeneous_devices

__all__ = [
    "device_payloads",
    "devices_from_payloads",
    "initialization_agreement",
    "planner_formation_fn",
    "record_extra_bytes",
]


def record_extra_bytes(dev: DeviceTable) -> int:
    """Extra record bytes of the devices' statistics: ``4·C`` (label histogram) or ``4·d_g``."""
    if dev.label_hist is not None:
        return 4 * int(dev.label_hist.shape[1])
    if dev.grads is not None:
        return 4 * int(dev.grads.shape[1])
    return 0


def device_payloads(dev: DeviceTable) -> list[dict[str, Any]]:
    """One record payload per device: its row of the devices table."""
    out = []
    for i in range(dev.n):
        p: dict[str, Any] = {
            "optimizer": dev.optimizer[i], "mu": float(dev.mu[i]), "rho": float(dev.rho[i]),
            "lr": float(dev.lr[i]), "n_samples": float(dev.n_samples[i]),
            "params": {k: float(v[i]) for k, v in dev.params.items()},
        }  # fmt: skip
        if dev.label_hist is not None:
            p["label_hist"] = dev.label_hist[i].tolist()
        if dev.grads is not None:
            p["grads"] = dev.grads[i].tolist()
        out.append(p)
    return out


def devices_from_payloads(
    payloads: tuple[dict[str, Any], ...], template: DeviceTable
) -> DeviceTable:
    """The devices table a device rebuilds from the records it received (order of the view);
    ``template`` gives only the column layout (class names, source)."""
    n = len(payloads)
    hist = (
        np.asarray([p["label_hist"] for p in payloads], dtype=np.float64)
        if template.label_hist is not None
        else None
    )
    grads = (
        np.asarray([p["grads"] for p in payloads], dtype=np.float64)
        if template.grads is not None
        else None
    )
    return replace(
        template,
        optimizer=[p["optimizer"] for p in payloads],
        mu=np.array([p["mu"] for p in payloads]),
        rho=np.array([p["rho"] for p in payloads]),
        lr=np.array([p["lr"] for p in payloads]),
        n_samples=np.array([p["n_samples"] for p in payloads]),
        label_hist=hist,
        grads=grads,
        params={k: np.array([p["params"][k] for p in payloads]) for k in template.params}
        if n
        else {},
    )


def planner_formation_fn(template: DeviceTable, config: PlanConfig | None = None) -> Any:
    """A ``formation_fn`` for :func:`simulate_flooding`: the planner on the device's view
    (labels per node of the view). Default config: no FMMC, schedule or Theorem-2 reports
    (they do not change the formation), the recommendation by the analytic predictor alone
    (``pilot_budget=0``: deterministic and cheap on every device)."""
    cfg = config or PlanConfig(fastest_mixing=False, schedule=False, theorem2=False, pilot_budget=0)

    def fn(view: ProtocolView) -> np.ndarray:
        dev = devices_from_payloads(view.payloads, template)
        return plan_formation(view.graph, dev, cfg).assignment

    return fn


def initialization_agreement(
    graph: GraphLike,
    devices: DeviceTable | None = None,
    config: PlanConfig | None = None,
    *,
    loss: float = 0.0,
    max_delay: int = 0,
    seed: int = 0,
    suppress_echo: bool = False,
) -> FloodingResult:
    """Flood the devices' records over ``graph`` (loss, delay, retransmission: see
    :mod:`ssdfl.simulate.protocol`) and run the planner on every device's view; the result's
    ``agreement`` says whether every device computed the same formation."""
    g = as_graph(graph)
    dev = devices or homogeneous_devices(g.n)
    return simulate_flooding(
        g, device_payloads(dev), record_bytes(g, record_extra_bytes(dev)),
        formation_fn=planner_formation_fn(dev, config), loss=loss, max_delay=max_delay,
        seed=seed, suppress_echo=suppress_echo,
    )  # fmt: skip
