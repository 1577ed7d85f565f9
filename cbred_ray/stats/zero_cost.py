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

from cbred_ray.stats.naswot import NaswotPass, naswot_pass
from cbred_ray.stats.numerics import StatisticFailed, finite

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


EPE_K = 1e-5
"""EPE-NAS's regulariser inside the logarithm (``k = 1e-5``)."""


def epe_nas_score(result: NaswotPass, labels: torch.Tensor, k: float = EPE_K) -> float:
    """EPE-NAS from a pass's input Jacobians and the batch's labels: for each class c seen, with J_c the
    Jacobians of its images, s_c = Σ_ij log(|corrcoef(J_c)_ij| + k); the score is Σ_c |s_c| for a
    network of at most 100 classes, else Σ_c Σ_c' |s_c - s_c'| / (classes seen).

    A class with one image has the 1x1 correlation 1 (``np.corrcoef`` of one row): s_c = log(1 + k).
    Raises StatisticFailed when a correlation is undefined (a constant Jacobian: the reference gets NaN).
    """
    jac = result.jacobians.double()
    labels = labels.to(jac.device)
    scores = []
    for label in labels.unique():
        rows = jac[labels == label]
        if len(rows) == 1:
            scores.append(torch.log(torch.tensor(1.0 + k, dtype=torch.float64, device=jac.device)))
            continue
        if bool((rows.std(dim=1) == 0).any()):
            raise StatisticFailed("an image's input Jacobian is constant: correlation undefined")
        s = torch.log(torch.corrcoef(rows).abs() + k).sum()
        scores.append(s / len(rows) if result.classes > 100 else s)
    values = torch.stack(scores)
    if result.classes <= 100:
        return finite(values.abs().sum(), "epe_nas")
    return finite((values[:, None] - values[None, :]).abs().sum() / len(values), "epe_nas")


def epe_nas(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True,
            k: float = EPE_K) -> float:
    """EPE-NAS = Σ over classes of |Σ log(|corr| + k)| over the correlations between the input Jacobians
    of the class's images. Higher is better.

    Lopes, Alirezazadeh, Alexandre, "EPE-NAS: Efficient Performance Estimation Without Training for
    Neural Architecture Search", ICANN 2021 (github.com/VascoLopes/EPE-NAS), as NAS-Bench-Suite-Zero's
    ``epe_nas.py`` runs it: the Jacobians of jacov (Σ of the logits, ``y.backward(ones)``, train mode,
    the network as built) on the zero-cost set's batch of 64 images with their labels; the form for
    more than 100 classes (ImageNet16-120) is the pairwise one, divided by the classes seen. In the
    registry it reads the same pass as ``jacov`` (:func:`cbred_ray.stats.naswot.naswot_pass`).
    """
    return epe_nas_score(naswot_pass(net, batch, train_mode, codes=False), labels, k)
