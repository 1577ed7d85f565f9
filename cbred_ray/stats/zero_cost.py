"""Statistics of the standard zero-cost set (Abdelfattah et al., "Zero-Cost Proxies for Lightweight
NAS", ICLR 2021, reference code github.com/SamsungLabs/zero-cost-nas; benchmarked together in
NAS-Bench-Suite-Zero, Krishnakumar et al., NeurIPS 2022 Datasets and Benchmarks, code
github.com/automl/NASLib), each in its published setup. ``docs/zero-cost-setups.md`` records
what the reference implementations do.

Both references score the weights of convolutions and linear layers only (no biases, no BatchNorm
parameters), on the network as PyTorch initialises it. ``jacov`` (the Jacobian covariance of
Mellor et al.'s first version) is NASWOT v1's function at the set's batch of 64 images
(:func:`cbred_ray.stats.naswot.naswot_v1`); it is registered beside it in
:mod:`cbred_ray.stats.registry`.
"""

from __future__ import annotations

import torch
from torch import nn

SCORED_LAYERS = (nn.Conv2d, nn.Linear)
"""The layers whose weights the zero-cost set scores (``get_layer_metric_array`` in both references)."""


def scored_weights(net: nn.Module) -> list[torch.Tensor]:
    """The weight of every convolution and linear layer of ``net``, in module order."""
    return [m.weight for m in net.modules() if isinstance(m, SCORED_LAYERS)]


def l2_norm(net: nn.Module) -> float:
    """Σ over convolutions and linear layers of ‖W‖₂, the Frobenius norm of the layer's weight (not
    squared), of the untrained network: data-free. Higher is better.

    As NAS-Bench-Suite-Zero's ``l2_norm`` (``measures/l2_norm.py``, which zero-cost-nas ships but
    does not register). One departure, in the references' favour: zero-cost-nas's NB201 model builds
    every operation on every edge and masks the unused ones, so a weights-only statistic counts
    their weights too; here, as in NASLib, the network holds only the cell's operations.
    """
    with torch.no_grad():
        return float(sum(w.detach().double().norm() for w in scored_weights(net)))
