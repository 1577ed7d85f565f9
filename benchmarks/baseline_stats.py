"""The speed baseline for the statistics engine: each statistic on its own, as the references do.

Every function here builds its own network (the package's builders, right after
``torch.manual_seed(seed)``, exactly as ``cbred_ray.stats.engine`` does, so the weights and
hence the values are comparable with ``compute_stats``), runs its own forward and backward
passes with plain autograd, loops over samples in Python where the published code loops,
and shares nothing with the other statistics. Networks are converted back to PyTorch's
default (NCHW, contiguous) memory format, as the reference codes run them; the engine's
networks are channels-last. Each function returns the same quantity as the engine's
statistic of the same name (same definition and orientation: see
``cbred_ray.stats.registry``).

Where a baseline departs from its reference, it is for comparability and is said in its
docstring (e.g. float64 for the NTK eigenvalues, as the engine, where TE-NAS uses float32).
Nothing here is used by the package.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.flop_counter import FlopCounterMode

from cbred_ray.spaces.cell.network import SMALL_NETWORK, build_network, build_thin_network
from cbred_ray.stats.engine import random_stream
from cbred_ray.stats.linear_regions import REGION_FORWARD_BATCH, REGION_REPEATS, REGION_SAMPLE_BATCH, region_inputs
from cbred_ray.stats.registry import STATISTICS

NB201 = {"channels": 16, "cells_per_stage": 5}


def _standard(ops: Sequence[str], seed: int, num_classes: int, channels: int, cells_per_stage: int) -> nn.Module:
    """The engine's "standard" network (same seed, same builder), in the default memory format."""
    torch.manual_seed(seed)
    net = build_network(ops, num_classes, channels, cells_per_stage)
    return net.to(memory_format=torch.contiguous_format)


# --------------------------------------------------------------------------------------------
# NASWOT v1 (Mellor et al., arXiv 2006.04647v1; search.py: get_batch_jacobian, eval_score)
# --------------------------------------------------------------------------------------------


def naswot_v1(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100,
              channels: int = 16, cells_per_stage: int = 5, k: float = 1e-5) -> float:
    """-Σ[log(σ+k) + 1/(σ+k)] over the eigenvalues of np.corrcoef of the per-sample input Jacobians.

    As the v1 reference: a freshly built network, so in train mode (it never calls
    ``eval()``); one forward of the batch, ``y.backward(torch.ones_like(y))``, ``x.grad``;
    then, as ``eval_score``: ``np.corrcoef``, ``np.linalg.eig``, k = 1e-5.
    """
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    x = batch.clone().requires_grad_(True)
    net.zero_grad()
    y = net(x)
    y.backward(torch.ones_like(y))
    rows = list(x.grad.detach().reshape(len(batch), -1).numpy())
    jacob = np.stack(rows)
    corrs = np.corrcoef(jacob)
    v, _ = np.linalg.eig(corrs)
    v = np.real(v)  # the reference keeps eig's dtype; the spectrum of a symmetric matrix is real
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


# --------------------------------------------------------------------------------------------
# NASWOT v2 (Mellor et al., ICML 2021; score_networks.py: counting_forward_hook, hooklogdet)
# --------------------------------------------------------------------------------------------


def naswot_v2(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100,
              channels: int = 16, cells_per_stage: int = 5) -> float:
    """log|det K_H| with the reference hook: per ReLU, ``K += x xᵀ + (1-x)(1-x)ᵀ`` in numpy float64.

    Train mode (the reference never calls ``eval()``), one forward pass of the batch with a
    forward hook on every ``nn.ReLU``; ``x = (input > 0).float()`` per unit. The reference
    first runs a forward+backward pass only to mark the ReLUs a backward reaches (all of them
    in NB201); that extra pass is left out here, so this baseline is if anything fast.
    """
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    kernel = {"K": np.zeros((len(batch), len(batch)))}

    def counting_forward_hook(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        flat = inp[0].view(inp[0].size(0), -1)
        x = (flat > 0).float()
        k1 = x @ x.t()
        k2 = (1.0 - x) @ (1.0 - x.t())
        kernel["K"] = kernel["K"] + k1.cpu().numpy() + k2.cpu().numpy()

    handles = [m.register_forward_hook(counting_forward_hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(batch)
    finally:
        for handle in handles:
            handle.remove()
    _, logdet = np.linalg.slogdet(kernel["K"])
    return float(logdet)


# --------------------------------------------------------------------------------------------
# NTK condition number (TE-NAS, lib/procedures/ntk.py: get_ntk_n)
# --------------------------------------------------------------------------------------------


def ntk_cond(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100) -> float:
    """λ_max/λ_min of Θ = G Gᵀ, G the per-sample gradients of the summed logits w.r.t. the "weight" params.

    TE-NAS's loop on the engine's "small" network (C=3, N=1): train mode, one forward of the
    whole batch, then per sample ``logit[i:i+1].backward(ones, retain_graph=True)``, the
    gradients of the parameters named "weight" that got one, concatenated, ``zero_grad``.
    Departure, as in the engine: Θ is formed and diagonalised in float64 (TE-NAS: float32
    ``einsum`` and ``symeig``), so that the ratio is not dominated by float32 rounding of λ_min.
    """
    torch.manual_seed(seed)
    net = build_network(ops, num_classes, **SMALL_NETWORK).to(memory_format=torch.contiguous_format)
    net.train()
    net.zero_grad()
    inputs = batch.clone()
    logit = net(inputs)
    grads = []
    for i in range(len(inputs)):
        logit[i : i + 1].backward(torch.ones_like(logit[i : i + 1]), retain_graph=True)
        grad = [w.grad.view(-1).detach().clone() for name, w in net.named_parameters()
                if "weight" in name and w.grad is not None]
        net.zero_grad()
        grads.append(torch.cat(grad, -1))
    g = torch.stack(grads, 0).double()
    ntk = torch.einsum("nc,mc->nm", g, g)
    eigenvalues = torch.linalg.eigvalsh(ntk)  # ascending
    return float(eigenvalues[-1] / eigenvalues[0])


# --------------------------------------------------------------------------------------------
# Linear regions (TE-NAS, lib/procedures/linear_region_counter.py)
# --------------------------------------------------------------------------------------------


def _calc_lr(activations: torch.Tensor) -> float:
    """TE-NAS ``LinearRegionCount.calc_LR``: Σ 1/multiplicity of each row, via a float16 Hamming matrix."""
    res = torch.matmul(activations.half(), (1 - activations).T.half())
    res += res.T.clone()  # the reference's in-place ``res += res.T`` (CUDA); on CPU the alias needs a copy
    res = 1 - torch.sign(res)
    res = res.sum(1)
    res = 1.0 / res.float()
    return res.sum().item()


def linear_regions(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100) -> float:
    """Mean over 3 repeats of TE-NAS's linear-region count on the thin network (train mode).

    Same thin network and the same 9000 crops (``region_inputs(seed=seed, source_batch=batch)``)
    as the engine. Per repeat: 3 forward passes of 1000 crops; each sample's row is the
    concatenated ``sign`` of every ReLU output (ReLUs with 4-D input), stored in a float32
    (3000, units) matrix, and counted with ``calc_LR``.
    """
    torch.manual_seed(seed)
    net = build_thin_network(ops, num_classes)
    inputs = region_inputs(seed=seed, source_batch=batch)
    net.train()
    features: list[torch.Tensor] = []

    def hook_in_forward(module: nn.Module, inp: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(inp, tuple) and len(inp[0].size()) == 4:
            features.append(output.detach())

    handles = [m.register_forward_hook(hook_in_forward) for m in net.modules() if isinstance(m, nn.ReLU)]
    counts = []
    try:
        for group in inputs.tensor_split(REGION_REPEATS):
            activations, ptr = None, 0
            for chunk in group.split(REGION_FORWARD_BATCH):
                features.clear()
                with torch.no_grad():
                    net(chunk)
                feature_data = torch.cat([f.view(chunk.size(0), -1) for f in features], 1)
                if activations is None:
                    activations = torch.zeros(REGION_FORWARD_BATCH * REGION_SAMPLE_BATCH, feature_data.shape[1])
                activations[ptr : ptr + len(chunk)] = torch.sign(feature_data)
                ptr += len(chunk)
            counts.append(_calc_lr(activations[:ptr]))
    finally:
        for handle in handles:
            handle.remove()
    return sum(counts) / len(counts)


# --------------------------------------------------------------------------------------------
# SynFlow (zero-cost-nas) and log-SynFlow (FreeREA): each on its own copy, its own backward
# --------------------------------------------------------------------------------------------


def _without_bn(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` with every BatchNorm replaced by ``nn.Identity`` (no BN)."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, _BatchNorm):
                setattr(module, child_name, nn.Identity())
    return net


def _synflow_per_weight(net: nn.Module, metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """zero-cost-nas ``compute_synflow_per_weight`` on a BN-free copy: |θ|, float64, all-ones input."""
    net = _without_bn(net)
    with torch.no_grad():
        for param in net.state_dict().values():
            param.abs_()
    net.zero_grad()
    net.double()
    output = net(torch.ones(1, 3, 32, 32, dtype=torch.float64))
    torch.sum(output).backward()
    total = 0.0
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            grad = module.weight.grad if module.weight.grad is not None else torch.zeros_like(module.weight)
            total += float(metric(module.weight.detach(), grad).sum())
    return total


def synflow(ops: Sequence[str], seed: int, num_classes: int = 100, channels: int = 16, cells_per_stage: int = 5) -> float:
    """ln Σ |θ ⊙ ∂R/∂θ| over Conv2d/Linear weights (zero-cost-nas synflow, as a log)."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    return math.log(_synflow_per_weight(net, lambda w, g: torch.abs(w * g)))


def logsynflow(ops: Sequence[str], seed: int, num_classes: int = 100, channels: int = 16, cells_per_stage: int = 5) -> float:
    """Σ |θ ⊙ log(1 + |∂R/∂θ|)| over Conv2d/Linear weights (FreeREA log-SynFlow)."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    return _synflow_per_weight(net, lambda w, g: torch.abs(w * torch.log1p(g.abs())))


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# The zero-cost set (zero-cost-nas / NASLib: measures/jacob_cov.py, measures/l2_norm.py)
# --------------------------------------------------------------------------------------------


def jacov(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100,
          channels: int = 16, cells_per_stage: int = 5) -> float:
    """zero-cost-nas's ``jacob_cov``: the same computation as NASWOT v1's reference (above), on the
    set's batch (the caller gives it 64 images)."""
    return naswot_v1(ops, batch, seed, num_classes, channels, cells_per_stage)


def l2_norm(ops: Sequence[str], seed: int, num_classes: int = 100, channels: int = 16,
            cells_per_stage: int = 5) -> float:
    """As the reference: ``get_layer_metric_array`` over Conv2d and Linear of ``layer.weight.norm()``, summed."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    return float(sum(torch.sum(layer.weight.norm()).item() for layer in net.modules()
                     if isinstance(layer, (nn.Conv2d, nn.Linear))))


# --------------------------------------------------------------------------------------------
# MeCo (Jiang et al., NeurIPS 2023; correlation/NAS_Bench_201.py: get_score)
# --------------------------------------------------------------------------------------------


def meco(ops: Sequence[str], batch: torch.Tensor, seed: int, num_classes: int = 100, channels: int = 16,
         cells_per_stage: int = 5) -> float:
    """As the reference: a forward hook on every module; per hook the first sample's output as
    (C, H*W), ``torch.corrcoef``, NaN and inf set to 0, the minimum real part of ``torch.linalg.eig``;
    summed over hooks, for one image (the caller gives it one), train mode."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    result_list = []

    def forward_hook(module, data_input, data_output):
        fea = data_output[0].clone().detach()
        n = fea.shape[0]
        fea = fea.reshape(n, -1)
        corr = torch.corrcoef(fea)
        corr[torch.isnan(corr)] = 0
        corr[torch.isinf(corr)] = 0
        values = torch.linalg.eig(corr)[0]
        result_list.append(torch.min(torch.real(values)))

    for _, module in net.named_modules():
        module.register_forward_hook(forward_hook)
    with torch.no_grad():
        net(batch)
    return float(sum(result_list).item())


# --------------------------------------------------------------------------------------------
# The loss-gradient set (zero-cost-nas: measures/grad_norm.py, snip.py, grasp.py, fisher.py,
# plain.py) and EPE-NAS (NASLib measures/epe_nas.py)
# --------------------------------------------------------------------------------------------


def _layers(net: nn.Module) -> list[nn.Module]:
    return [layer for layer in net.modules() if isinstance(layer, (nn.Conv2d, nn.Linear))]


def _ce_backward(ops, batch, labels, seed, num_classes, channels, cells_per_stage) -> nn.Module:
    """A fresh network (train mode), ``net.zero_grad()``, CE of the batch, ``loss.backward()``, as the references."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    net.zero_grad()
    loss = nn.functional.cross_entropy(net(batch), labels)
    loss.backward()
    return net


def grad_norm(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
              channels: int = 16, cells_per_stage: int = 5) -> float:
    """``get_layer_metric_array(net, lambda l: l.weight.grad.norm(), mode='param')``, summed (a layer off
    every path to the output has no gradient: zero, as there)."""
    net = _ce_backward(ops, batch, labels, seed, num_classes, channels, cells_per_stage)
    return float(sum(layer.weight.grad.norm().item() for layer in _layers(net) if layer.weight.grad is not None))


def plain(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
          channels: int = 16, cells_per_stage: int = 5) -> float:
    """``layer.weight.grad * layer.weight`` per layer, summed (signed)."""
    net = _ce_backward(ops, batch, labels, seed, num_classes, channels, cells_per_stage)
    return float(sum((layer.weight.grad * layer.weight).sum().item() for layer in _layers(net)
                     if layer.weight.grad is not None))


def snip(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
         channels: int = 16, cells_per_stage: int = 5) -> float:
    """As ``snip.py``: a weight mask of ones per layer (the weight frozen), the forward swapped for
    ``conv2d(x, W * mask)``; the score is Σ |∂L/∂mask|."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    for layer in _layers(net):
        layer.weight_mask = nn.Parameter(torch.ones_like(layer.weight))
        layer.weight.requires_grad = False
        if isinstance(layer, nn.Conv2d):
            layer.forward = (lambda x, self=layer: nn.functional.conv2d(
                x, self.weight * self.weight_mask, self.bias, self.stride, self.padding, self.dilation, self.groups))
        else:
            layer.forward = lambda x, self=layer: nn.functional.linear(x, self.weight * self.weight_mask, self.bias)
    net.train()
    net.zero_grad()
    nn.functional.cross_entropy(net(batch), labels).backward()
    return float(sum(layer.weight_mask.grad.abs().sum().item() for layer in _layers(net)
                     if layer.weight_mask.grad is not None))


def grasp(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
          channels: int = 16, cells_per_stage: int = 5, T: float = 1.0) -> float:
    """As ``grasp.py`` (one split, one iteration): g = autograd.grad(L, W); a second forward,
    grad_f = autograd.grad(L, W, create_graph=True), z = Σ g·grad_f, ``z.backward()``; Σ -W ⊙ W.grad."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    weights = [layer.weight for layer in _layers(net)]
    net.zero_grad()
    loss = nn.functional.cross_entropy(net(batch) / T, labels)
    grad_w = torch.autograd.grad(loss, weights, allow_unused=True)
    loss = nn.functional.cross_entropy(net(batch) / T, labels)
    grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = 0
    for g, f in zip(grad_w, grad_f):
        if g is not None:
            z += (g.data * f).sum()
    z.backward()
    return float(sum((-layer.weight.data * layer.weight.grad).sum().item() for layer in _layers(net)
                     if layer.weight.grad is not None))


def fisher(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
           channels: int = 16, cells_per_stage: int = 5) -> float:
    """As ``fisher.py``: each layer's output through an identity "dummy" with a backward hook that adds
    ½ mean_n (Σ_hw act·grad)² per channel; the per-channel values broadcast over the weight's shape
    (``reshape_elements``) and summed."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    for layer in _layers(net):
        layer.fisher = None
        layer.act = 0.0
        layer.dummy = nn.Identity()
        if isinstance(layer, nn.Conv2d):
            def forward(x, self=layer):
                x = nn.functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                         self.groups)
                self.act = self.dummy(x)
                return self.act
        else:
            def forward(x, self=layer):
                x = nn.functional.linear(x, self.weight, self.bias)
                self.act = self.dummy(x)
                return self.act
        layer.forward = forward

        def hook(module, grad_input, grad_output, layer=layer):
            act = layer.act.detach()
            grad = grad_output[0].detach()
            g_nk = torch.sum(act * grad, list(range(2, len(act.shape)))) if len(act.shape) > 2 else act * grad
            del_k = g_nk.pow(2).mean(0).mul(0.5)
            layer.fisher = del_k if layer.fisher is None else layer.fisher + del_k
            del layer.act
        layer.dummy.register_full_backward_hook(hook)
    net.zero_grad()
    nn.functional.cross_entropy(net(batch), labels).backward()
    total = 0.0
    for layer in _layers(net):
        if layer.fisher is None:  # off every path to the output
            continue
        per_channel = layer.fisher.abs().view(-1, *([1] * (layer.weight.dim() - 1))).expand_as(layer.weight)
        total += per_channel.sum().item()
    return float(total)


def epe_nas(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
            channels: int = 16, cells_per_stage: int = 5) -> float:
    """As NASLib's ``epe_nas.py``: jacov's input Jacobians, ``eval_score_perclass`` in numpy (per class,
    rows stacked by ``np.vstack``, ``np.corrcoef``, Σ log(|corr| + 1e-5)), Σ_c |s_c| for ≤ 100 classes."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.train()
    x = batch.clone().requires_grad_(True)
    net.zero_grad()
    y = net(x)
    y.backward(torch.ones_like(y))
    jacob = x.grad.detach().reshape(len(batch), -1).numpy()
    k, per_class = 1e-5, {}
    for i, label in enumerate(labels.tolist()):
        per_class[label] = np.vstack((per_class[label], jacob[i])) if label in per_class else jacob[i]
    scores = {c: np.sum(np.log(abs(np.array(np.corrcoef(rows))) + k)) for c, rows in per_class.items()}
    if y.shape[-1] <= 100:
        return float(sum(np.absolute(v) for v in scores.values()))
    return float(sum(np.absolute(a - b) for a in scores.values() for b in scores.values()) / len(scores))


# --------------------------------------------------------------------------------------------
# Zen-NAS (ZenNAS ZeroShotProxy/compute_zen_score.py), AZ-NAS (NB201/ZeroShotProxy/
# compute_az_nas_score.py), ZiCo (ZeroShotProxy/compute_zico.py), SWAP (src/metrics/swap.py)
# --------------------------------------------------------------------------------------------


def _gaussian_init(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """ZenNAS / SWAP ``network_weight_gaussian_init`` (the ``generator`` in place of the global stream)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, generator=generator)
                if hasattr(m, "bias") and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, generator=generator)
                if hasattr(m, "bias") and m.bias is not None:
                    nn.init.zeros_(m.bias)
    return net


def zen(ops: Sequence[str], seed: int, generator: torch.Generator, num_classes: int = 100, channels: int = 16,
        cells_per_stage: int = 5, batch_size: int = 64, mixup_gamma: float = 1e-2) -> float:
    """ZenNAS ``compute_nas_score`` (one repeat): Gaussian init, two Gaussian inputs, the pre-GAP map."""
    model = _standard(ops, seed, num_classes, channels, cells_per_stage)
    model.train()
    with torch.no_grad():
        _gaussian_init(model, generator)
        input = torch.randn(size=[batch_size, 3, 32, 32], generator=generator)
        input2 = torch.randn(size=[batch_size, 3, 32, 32], generator=generator)
        mixup_input = input + mixup_gamma * input2
        output = model.lastact(model.cells(model.stem(input)))
        mixup_output = model.lastact(model.cells(model.stem(mixup_input)))
        nas_score = torch.sum(torch.abs(output - mixup_output), dim=[1, 2, 3])
        nas_score = torch.mean(nas_score)
        log_bn_scaling_factor = 0.0
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                bn_scaling_factor = torch.sqrt(torch.mean(m.running_var))
                log_bn_scaling_factor += torch.log(bn_scaling_factor)
        nas_score = torch.log(nas_score) + log_bn_scaling_factor
    return float(nas_score)


def _kaiming_fan_in_init(model: nn.Module, generator: torch.Generator) -> None:
    """AZ-NAS's (and VKDNW's) ``kaiming_norm_fanin`` init (the ``generator`` in place of the global stream)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _az_nas(ops: Sequence[str], seed: int, generator: torch.Generator, num_classes: int = 100, channels: int = 16,
            cells_per_stage: int = 5, batch_size: int = 64) -> dict[str, float]:
    """AZ-NAS ``compute_nas_score`` (Gaussian input, kaiming_norm_fanin), with ``extract_cell_features``."""
    model = _standard(ops, seed, num_classes, channels, cells_per_stage)
    model.train()
    _kaiming_fan_in_init(model, generator)
    input_ = torch.randn(size=[batch_size, 3, 32, 32], generator=generator)
    layer_features = []
    feature = model.stem(input_)
    if feature.requires_grad:
        feature.retain_grad()
    layer_features.append(feature)
    for cell in model.cells:
        feature = cell(feature)
        if feature.requires_grad:
            feature.retain_grad()
        layer_features.append(feature)
    expressivity_scores = []
    for i in range(len(layer_features)):
        feat = layer_features[i].detach().clone()
        b, c, h, w = feat.size()
        feat = feat.permute(0, 2, 3, 1).contiguous().view(b * h * w, c)
        m = feat.mean(dim=0, keepdim=True)
        feat = feat - m
        sigma = torch.mm(feat.transpose(1, 0), feat) / (feat.size(0))
        s = torch.linalg.eigvalsh(sigma)
        prob_s = s / s.sum()
        score = (-prob_s) * torch.log(prob_s + 1e-8)
        expressivity_scores.append(score.sum().item())
    expressivity_scores = np.array(expressivity_scores)
    progressivity = np.min(expressivity_scores[1:] - expressivity_scores[:-1])
    expressivity = np.sum(expressivity_scores)
    scores = []
    for i in reversed(range(1, len(layer_features))):
        f_out = layer_features[i]
        f_in = layer_features[i - 1]
        g_out = torch.ones_like(f_out) * 0.5
        g_out = (torch.bernoulli(g_out, generator=generator) - 0.5) * 2
        if f_out.requires_grad and f_in.requires_grad:
            g_in = torch.autograd.grad(outputs=f_out, inputs=f_in, grad_outputs=g_out, retain_graph=False,
                                       allow_unused=True)[0]
        else:
            g_in = None
        if g_in is None:  # the reference's 'none' multiplies by 0; here the edge is absent
            g_in = torch.zeros_like(f_in)
        if g_out.size() == g_in.size() and torch.all(g_in == g_out):
            scores.append(-np.inf)
        else:
            if g_out.size(2) != g_in.size(2) or g_out.size(3) != g_in.size(3):
                bo, co, ho, wo = g_out.size()
                bi, ci, hi, wi = g_in.size()
                stride = int(hi / ho)
                g_in = nn.PixelUnshuffle(stride)(g_in)
            bo, co, ho, wo = g_out.size()
            bi, ci, hi, wi = g_in.size()
            g_out = g_out.permute(0, 2, 3, 1).contiguous().view(bo * ho * wo, co)
            g_in = g_in.permute(0, 2, 3, 1).contiguous().view(bi * hi * wi, ci)
            mat = torch.mm(g_in.transpose(1, 0), g_out) / (bo * ho * wo)
            if mat.size(0) < mat.size(1):
                mat = mat.transpose(0, 1)
            s = torch.linalg.svdvals(mat)
            scores.append(-s.max().item() - 1 / (s.max().item() + 1e-6) + 2)
    trainability = np.mean(scores)
    return {"az_expressivity": float(expressivity), "az_progressivity": float(progressivity),
            "az_trainability": float(trainability)}


def zico(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
         channels: int = 16, cells_per_stage: int = 5, batches: int = 2) -> float:
    """ZiCo ``getzico`` over ``batches`` splits of the batch, ``caculate_zico`` in numpy (a layer with no
    gradient, off every path to the output, is given zeros, where the reference would fail)."""
    network = _standard(ops, seed, num_classes, channels, cells_per_stage)
    network.train()
    grad_dict: dict[str, list] = {}
    size = len(batch) // batches
    for i in range(batches):
        network.zero_grad()
        data, label = batch[i * size:(i + 1) * size], labels[i * size:(i + 1) * size]
        loss = nn.CrossEntropyLoss()(network(data), label)
        loss.backward()
        for name, mod in network.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                grad = mod.weight.grad if mod.weight.grad is not None else torch.zeros_like(mod.weight)
                grad_dict.setdefault(name, []).append(grad.data.cpu().reshape(-1).numpy())
    nsr_mean_sum_abs = 0
    for modname in grad_dict:
        g = np.array(grad_dict[modname])
        nsr_std = np.std(g, axis=0)
        nonzero_idx = np.nonzero(nsr_std)[0]
        nsr_mean_abs = np.mean(np.abs(g), axis=0)
        tmpsum = np.sum(nsr_mean_abs[nonzero_idx] / nsr_std[nonzero_idx])
        if tmpsum != 0:
            nsr_mean_sum_abs += np.log(tmpsum)
    return float(nsr_mean_sum_abs)


def swap(ops: Sequence[str], batch: torch.Tensor, seed: int, generator: torch.Generator, num_classes: int = 100,
         repeats: int = 32) -> float:
    """SWAP's ``correlation.py`` loop on the small network (C=3, N=1): per repeat Gaussian init, hooks on
    every ``nn.ReLU`` with a 4-D input, ``torch.sign`` of the concatenated outputs, ``torch.unique(dim=0)``
    of the transpose; the mean over repeats (unregularised)."""
    torch.manual_seed(seed)
    network = build_network(ops, num_classes, **SMALL_NETWORK).to(memory_format=torch.contiguous_format)
    features: list[torch.Tensor] = []

    def hook_in_forward(module, input, output):
        if isinstance(input, tuple) and len(input[0].size()) == 4:
            features.append(output.detach())

    for m in network.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook_in_forward)
    swap_score = []
    for _ in range(repeats):
        _gaussian_init(network, generator)
        features.clear()
        with torch.no_grad():
            network.forward(batch)
            activations = torch.cat([f.view(batch.size(0), -1) for f in features], 1)
            activations = torch.sign(activations).T
            swap_score.append(torch.unique(activations, dim=0).size(0))
    return float(np.mean(swap_score))


def params(ops: Sequence[str], seed: int, num_classes: int = 100, channels: int = 16, cells_per_stage: int = 5) -> float:
    """Number of parameters of the NB201 network."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    return float(sum(p.numel() for p in net.parameters()))


def macs(ops: Sequence[str], seed: int, num_classes: int = 100, channels: int = 16, cells_per_stage: int = 5) -> float:
    """FlopCounterMode FLOPs / 2 of one forward of a real (1, 3, 32, 32) zero image, eval mode."""
    net = _standard(ops, seed, num_classes, channels, cells_per_stage)
    net.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, 3, 32, 32))
    return counter.get_total_flops() / 2.0


def _cholesky_covariance(output: torch.Tensor) -> torch.Tensor:
    """VKDNW's ``cholesky_covariance``: the factor of the smoothed softmax's multinomial covariance, per image."""
    alpha = torch.tensor(0.05, dtype=torch.float16)
    prob = torch.softmax(output, dim=1) * (1 - alpha) + alpha / output.shape[1]
    q = 1 - torch.cumsum(prob, dim=1)
    q[:, -1] = 0
    q_shift = torch.roll(q, 1, dims=1)
    q_shift[:, 0] = 1
    d = torch.sqrt(prob * q / q_shift)
    size = output.shape[1]
    factor = torch.zeros(output.shape[0], size, size, dtype=output.dtype)
    for j in range(size):
        factor[:, j, j] = 1.0
        for i in range(j + 1, size):
            factor[:, i, j] = -prob[:, i] / q[:, j] if j < size - 1 else 0.0
    return factor * d[:, None, :]


def _vkdnw(ops: Sequence[str], seed: int, generator: torch.Generator, num_classes: int = 100, channels: int = 16,
           cells_per_stage: int = 5, batch_size: int = 64, tensors: int = 128) -> dict[str, float]:
    """VKDNW ``compute_nas_score`` (commit 945250a): kaiming_norm_fanin, eval mode, Gaussian input, the Jacobian
    of the logits with respect to element 0 of the first 128 parameter tensors by ``vmap(jacrev(...))`` (its
    ``get_jacobian_index``), F = mean (L J)ᵀ (L J), the entropy of the deciles of F's singular values."""
    from torch.func import functional_call, jacrev, vmap

    model = _standard(ops, seed, num_classes, channels, cells_per_stage)
    model.train()
    _kaiming_fan_in_init(model, generator)
    model.eval()
    input_ = torch.randn(size=[batch_size, 3, 32, 32], generator=generator)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    params_grad = dict(list({k: v.flatten()[0:1] for k, v in params.items()}.items())[:tensors])

    def logits(grad_part: dict[str, torch.Tensor], sample: torch.Tensor) -> torch.Tensor:
        full = dict(params)
        for k, v in grad_part.items():
            full[k] = torch.cat([v, params[k].flatten()[1:]]).reshape(params[k].shape)
        return functional_call(model, (full, buffers), (sample.unsqueeze(0),)).squeeze(0)

    jacobian_dict = vmap(jacrev(logits), in_dims=(None, 0))(params_grad, input_)
    jacobian = torch.cat([torch.flatten(v, start_dim=2, end_dim=-1) for v in jacobian_dict.values()], dim=2)
    with torch.no_grad():
        jacobian = torch.matmul(_cholesky_covariance(model(input_)), jacobian)
        fisher = torch.mean(torch.matmul(torch.transpose(jacobian, dim0=1, dim1=2), jacobian), dim=0)
        lambdas = torch.svd(fisher).S
        quantiles = torch.quantile(lambdas, torch.arange(0.1, 1.0, 0.1))
        temp = quantiles / (torch.linalg.norm(quantiles, ord=1, keepdim=False).item() + 1e-10)
        entropy = float(-(temp * torch.log(temp + 1e-10)).sum())
    dim = float(len(list(model.named_parameters())))
    return {"vkdnw": dim + entropy / math.log(9), "vkdnw_entropy": entropy}


# --------------------------------------------------------------------------------------------


NAMES = ("naswot_v1", "naswot_v2", "ntk_cond", "linear_regions", "synflow", "logsynflow", "jacov", "l2_norm",
         "meco", "grad_norm", "snip", "grasp", "fisher", "plain", "epe_nas", "zen", "az_expressivity",
         "az_progressivity", "az_trainability", "az_complexity", "zico", "swap", "vkdnw", "vkdnw_entropy", "params",
         "macs")


def baseline_calls(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int, num_classes: int = 100,
                   channels: int = 16, cells_per_stage: int = 5) -> dict[str, Callable[[], float]]:
    """One zero-argument call per statistic (in the registry's order), each self-contained.

    ``channels`` and ``cells_per_stage`` shrink the standard network (as ``compute_stats``'s
    arguments of the same names); the small and thin networks keep their published sizes.
    """
    std = {"num_classes": num_classes, "channels": channels, "cells_per_stage": cells_per_stage}

    def images(name: str) -> torch.Tensor:
        """The images the engine gives the statistic: its published number (registry), or all."""
        size = STATISTICS[name].batch_size
        return batch if size is None else batch[:size]

    return {
        "naswot_v1": lambda: naswot_v1(ops, images("naswot_v1"), seed, **std),
        "naswot_v2": lambda: naswot_v2(ops, images("naswot_v2"), seed, **std),
        "ntk_cond": lambda: ntk_cond(ops, images("ntk_cond"), seed, num_classes),
        "linear_regions": lambda: linear_regions(ops, images("linear_regions"), seed, num_classes),
        "synflow": lambda: synflow(ops, seed, **std),
        "logsynflow": lambda: logsynflow(ops, seed, **std),
        "jacov": lambda: jacov(ops, images("jacov"), seed, **std),
        "l2_norm": lambda: l2_norm(ops, seed, **std),
        "meco": lambda: meco(ops, images("meco"), seed, **std),
        **{name: (lambda fn=fn, name=name: fn(ops, images(name), labels[: len(images(name))], seed, **std))
           for name, fn in (("grad_norm", grad_norm), ("snip", snip), ("grasp", grasp), ("fisher", fisher),
                            ("plain", plain), ("epe_nas", epe_nas), ("zico", zico))},
        "zen": lambda: zen(ops, seed, random_stream(seed, "zen"), **std),
        **{name: (lambda name=name: _az_nas(ops, seed, random_stream(seed, "az_nas"), **std)[name])
           for name in ("az_expressivity", "az_progressivity", "az_trainability")},
        "az_complexity": lambda: macs(ops, seed, **std),
        "swap": lambda: swap(ops, images("swap"), seed, random_stream(seed, "swap"), num_classes),
        **{name: (lambda name=name: _vkdnw(ops, seed, random_stream(seed, "vkdnw"), **std)[name])
           for name in ("vkdnw", "vkdnw_entropy")},
        "params": lambda: params(ops, seed, **std),
        "macs": lambda: macs(ops, seed, **std),
    }


def baseline_stats(ops: Sequence[str], batch: torch.Tensor, labels: torch.Tensor, seed: int,
                   **kwargs) -> dict[str, float]:
    """Every statistic, each computed on its own (see ``baseline_calls``)."""
    return {name: call() for name, call in baseline_calls(ops, batch, labels, seed, **kwargs).items()}
