"""The loss-gradient statistics of the zero-cost set: grad_norm, snip, grasp, fisher and plain.

They are pruning-at-initialisation saliencies summed over the network: each reads the gradient of
the cross-entropy loss of the untrained network on a labelled batch. Abdelfattah et al., "Zero-Cost
Proxies for Lightweight NAS", ICLR 2021 (reference code github.com/SamsungLabs/zero-cost-nas,
``foresight/pruners/measures``), as benchmarked in NAS-Bench-Suite-Zero (Krishnakumar et al., 2022,
github.com/automl/NASLib). SNIP: Lee et al., ICLR 2019; GraSP: Wang et al., ICLR 2020; Fisher:
Theis et al. 2018 / Turner et al., ICLR 2020. ``docs/zero-cost-setups.md`` records the references'
setups.

Published setup, shared by all five: the network as PyTorch initialises it, in train mode
(BatchNorm on the batch's statistics, kept), one batch (zero-cost-nas's NB201 setting: 64 images)
with its labels, ``F.cross_entropy`` (mean over the batch), one split; scored over the weights of
convolutions and linear layers only (:func:`cbred_ray.stats.zero_cost.scored_weights`). grad_norm,
snip, fisher and plain read one forward and backward pass (:func:`gradient_pass`); grasp needs a
Hessian-vector product and runs its own.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cbred_ray.stats.numerics import finite, restored_state
from cbred_ray.stats.zero_cost import SCORED_LAYERS


class GradientPass(NamedTuple):
    """What one forward and backward pass of the cross-entropy loss gives, per scored layer (module order)."""

    weights: list[torch.Tensor]  # W, detached
    grads: list[torch.Tensor]  # ∂L/∂W
    fisher: list[torch.Tensor]  # Σ_k ½ mean_n (Σ_positions a ⊙ ∂L/∂a)² · fan-in, a the layer's output


def _scored_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, SCORED_LAYERS)]


def gradient_pass(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True) -> GradientPass:
    """One forward of ``batch``, ``F.cross_entropy`` against ``labels``, and one backward, reading the
    gradient of every scored layer's weight and (for fisher) of its output.

    The network's ``.grad`` fields are not touched (``torch.autograd.grad``) and its BatchNorm
    running statistics and train/eval flags are restored afterwards.
    """
    layers = _scored_layers(net)
    fisher: dict[int, torch.Tensor] = {}

    def keep_output(index: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            act = output.detach()

            def on_grad(grad: torch.Tensor) -> None:
                # zero-cost-nas fisher.py: g_nk = Σ_positions a·g, del_k = ½ mean_n g_nk², per output channel,
                # broadcast over the weight's other dimensions (its fan-in) when summed
                g_nk = (act * grad).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * grad
                fan_in = module.weight[0].numel()
                fisher[index] = (0.5 * g_nk.pow(2).mean(0)).sum() * fan_in

            if output.requires_grad:
                output.register_hook(on_grad)
        return hook

    handles = [layer.register_forward_hook(keep_output(i)) for i, layer in enumerate(layers)]
    weights = [layer.weight for layer in layers]
    try:
        with restored_state(net), torch.enable_grad():
            net.train(train_mode)
            loss = F.cross_entropy(net(batch), labels)
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    grads = [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]
    zero = torch.zeros((), device=batch.device)
    return GradientPass([w.detach() for w in weights], grads, [fisher.get(i, zero) for i in range(len(layers))])


def grad_norm_score(result: GradientPass) -> float:
    """Σ over layers of ‖∂L/∂W‖ (the Frobenius norm, not squared)."""
    return finite(sum(g.norm() for g in result.grads), "grad_norm")


def snip_score(result: GradientPass) -> float:
    """Σ |∂L/∂W ⊙ W|: SNIP's connection sensitivity, summed."""
    return finite(sum((g * w).abs().sum() for g, w in zip(result.grads, result.weights)), "snip")


def plain_score(result: GradientPass) -> float:
    """Σ ∂L/∂W ⊙ W, signed."""
    return finite(sum((g * w).sum() for g, w in zip(result.grads, result.weights)), "plain")


def fisher_score(result: GradientPass) -> float:
    """Σ over layers and output channels of the channel's Fisher saliency times the layer's fan-in."""
    return finite(sum(result.fisher), "fisher")


def grad_norm(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True) -> float:
    """grad_norm = Σ over convolutions and linear layers of ‖∂L/∂W‖₂, L the cross-entropy of the batch.
    Higher is better. As zero-cost-nas's ``grad_norm.py`` (``l.weight.grad.norm()`` per layer, summed)."""
    return grad_norm_score(gradient_pass(net, batch, labels, train_mode))


def snip(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True) -> float:
    """SNIP = Σ |∂L/∂W ⊙ W| over convolutions and linear layers. Higher is better.

    zero-cost-nas's ``snip.py`` differentiates a weight mask of ones (``W ⊙ m``) at m = 1, which is
    ∂L/∂W ⊙ W; here it is computed so, without the mask.
    """
    return snip_score(gradient_pass(net, batch, labels, train_mode))


def plain(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True) -> float:
    """plain = Σ ∂L/∂W ⊙ W (signed) over convolutions and linear layers; zero-cost-nas's ``plain.py``.
    Higher is better, as the set orients it."""
    return plain_score(gradient_pass(net, batch, labels, train_mode))


def fisher(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True) -> float:
    """Fisher = Σ_layers Σ_k ½ mean_n (Σ_{h,w} a_nkhw ∂L/∂a_nkhw)² · fan-in. Higher is better.

    As zero-cost-nas's ``fisher.py``: a is each convolution's or linear layer's output (before its
    BatchNorm), k its output channel, n the sample; the per-channel value is broadcast over the
    weight's shape before summing, which multiplies it by the layer's fan-in (C_in·k_h·k_w). The
    reference routes each layer's output through an identity module with a backward hook; here a
    tensor hook on the output reads the same gradient.
    """
    return fisher_score(gradient_pass(net, batch, labels, train_mode))


def grasp(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, train_mode: bool = True,
          temperature: float = 1.0) -> float:
    """GraSP = Σ -W ⊙ (H g) over convolutions and linear layers, g = ∂L/∂W and H the Hessian of L with
    respect to those weights, L the cross-entropy of the logits divided by ``temperature``. Higher is
    better (zero-cost-nas adds the minus sign: "accuracy seems to be negatively correlated with this
    metric").

    As zero-cost-nas's ``grasp.py`` (T = 1, one iteration, one split): it computes g in one pass, then
    in a second forward ∂L/∂W with ``create_graph=True``, z = Σ g·∂L/∂W, and back-propagates z, which
    gives Hg. Here the second forward is the first: ∂L/∂W is taken once with the graph kept, g is its
    detached value (the same number), and Hg is ``autograd.grad(z, W)``: one forward pass fewer.
    """
    weights = [layer.weight for layer in _scored_layers(net)]
    with restored_state(net), torch.enable_grad():
        net.train(train_mode)
        loss = F.cross_entropy(net(batch) / temperature, labels)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        pairs = [(w, g) for w, g in zip(weights, grads) if g is not None]
        z = sum((g.detach() * g).sum() for _, g in pairs)
        hessian_grads = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True)
    total = sum((-w.detach() * hg).sum() for (w, _), hg in zip(pairs, hessian_grads) if hg is not None)
    return finite(total, "grasp")
