"""VKDNW: the entropy of the spectrum of the network's Fisher information at initialisation.

Týbl and Neumann, "Training-free Neural Architecture Search through Variance of Knowledge of Deep
Network Weights", CVPR 2025 (github.com/ondratybl/VKDNW, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``,
in the version behind the paper's NB201 numbers, commit 945250a): Kaiming fan-in weights, eval mode on
fresh batch-norm statistics, 64 Gaussian images, one scalar per parameter tensor (element 0 of each of
the first 128 tensors in ``named_parameters`` order), the per-image Jacobian J of the logits with respect
to them, the Fisher information F = mean over images of (L J)ᵀ (L J) with L the reference's Cholesky-like
factor of the smoothed softmax's multinomial covariance, its eigenvalues λ, and the entropy of λ's nine
deciles normalised to sum 1.

The paper ranks networks by (ℵ, entropy) in that order, ℵ the number of parameter tensors
(``VKDNW_single``): ``vkdnw`` is that order as one number, ℵ + entropy / ln 9 (the entropy of nine
shares is at most ln 9, so the number orders as the pair does); ``vkdnw_entropy`` is the entropy alone.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap
from torch.nn.modules.batchnorm import _BatchNorm

from cbred_ray.stats.numerics import finite
from cbred_ray.stats.reinit import gaussian_inputs, kaiming_fan_in_copy

VKDNW_BATCH = 64
"""Gaussian images (the reference's default batch size)."""
VKDNW_TENSORS = 128
"""Parameter tensors whose element 0 enters the Fisher information (the reference's ``params_grad_len``)."""
DECILES = torch.arange(1, 10, dtype=torch.float64) / 10
"""The nine quantile levels of the spectrum, 0.1 to 0.9."""
SMOOTHING = float(torch.tensor(0.05, dtype=torch.float16))
"""The reference's label smoothing of the softmax, 0.05 held in float16 (0.049988…), as it computes it."""
KEEP = float(torch.tensor(1.0, dtype=torch.float16) - torch.tensor(SMOOTHING, dtype=torch.float16))
"""1 − SMOOTHING in float16 (0.950195…), the reference's factor on the softmax."""


class VkdnwPass(NamedTuple):
    tensors: int  # ℵ: the network's parameter tensors
    entropy: float


def covariance_factor(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, C): per image, the reference's factor L of the multinomial covariance of the smoothed softmax
    p: L[j, j] = d_j, L[i, j] = −p_i d_j / q_j below the diagonal, with q_j = 1 − Σ_{k≤j} p_k (q_C = 0) and
    d_j = √(p_j q_j / q_{j−1}) (q_0 = 1); the last column is 0. L Lᵀ is the covariance diag(p) − p pᵀ."""
    p = torch.softmax(logits.double(), dim=1) * KEEP + SMOOTHING / logits.shape[1]
    q = 1 - torch.cumsum(p, dim=1)
    q[:, -1] = 0
    shifted = torch.roll(q, 1, dims=1)
    shifted[:, 0] = 1
    d = torch.sqrt(torch.clamp(p * q / shifted, min=0))
    below = -p[:, :, None] / torch.where(q == 0, torch.ones_like(q), q)[:, None, :]
    factor = torch.tril(below, diagonal=-1) + torch.diag_embed(torch.ones_like(p))
    return factor * d[:, None, :]


def decile_entropy(eigenvalues: torch.Tensor) -> float:
    """−Σ t ln(t + 1e-10) over the nine deciles of the eigenvalues, t = decile / (Σ|decile| + 1e-10)."""
    deciles = torch.quantile(eigenvalues.double(), DECILES.to(eigenvalues.device))
    shares = deciles / (deciles.abs().sum() + 1e-10)
    return float(-(shares * torch.log(shares + 1e-10)).sum())


def vkdnw_pass(net: nn.Module, batch_size: int = VKDNW_BATCH, tensors: int = VKDNW_TENSORS, *,
               generator: torch.Generator) -> VkdnwPass:
    """ℵ and the entropy of the Fisher information's spectrum (see the module), on a re-initialised copy."""
    device = next(net.parameters()).device
    model = kaiming_fan_in_copy(net, generator).eval()
    for module in model.modules():  # fresh statistics: the shared network may have run in train mode
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.reset_running_stats()
    x = gaussian_inputs(batch_size, generator, device)
    named = dict(model.named_parameters())
    chosen = list(named)[:tensors]
    out, jacobian = element_jacobian(model, x, chosen)
    weighted = covariance_factor(out) @ jacobian.double()
    fisher = (weighted.transpose(1, 2) @ weighted).mean(dim=0)
    eigenvalues = torch.linalg.svdvals(fisher)
    return VkdnwPass(len(named), finite(decile_entropy(eigenvalues), "vkdnw entropy"))


LAYERS = (nn.Conv2d, nn.Linear, _BatchNorm)
"""Layers whose element-0 gradients :func:`element_jacobian` reads off their inputs and output gradients."""


def element_jacobian(model: nn.Module, x: torch.Tensor, chosen: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits (B, C) and, per image, their Jacobian (B, C, P) with respect to element 0 of each parameter
    ``chosen`` (names of ``model.named_parameters()``), the model in eval mode.

    In eval mode every image is computed on its own, so the gradient of the batch's summed logit c with respect
    to a layer's output is, image by image, that image's; and the gradient with respect to element 0 of a
    convolution's, linear layer's or batch norm's parameters is a sum over that layer's input and output
    gradient: one backward pass per class instead of one per (image, class). A parameter of any other layer
    falls back to ``torch.func`` (one reverse pass per image and class)."""
    owners = {}
    for module_name, module in model.named_modules():
        for attr, _ in module.named_parameters(recurse=False):
            owners[f"{module_name}.{attr}" if module_name else attr] = (module, attr)
    independent = all(m.running_mean is not None for m in model.modules() if isinstance(m, _BatchNorm))
    if not independent or not all(isinstance(owners[name][0], LAYERS) for name in chosen):
        return _functional_jacobian(model, x, chosen)  # a batch norm without running statistics mixes the images
    modules = list(dict.fromkeys(owners[name][0] for name in chosen))
    seen: dict[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]] = {m: [] for m in modules}
    def keep(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        # channel 0 of the input, as it was; the output the gradient is taken at, before any in-place layer
        # after this one (a ReLU(inplace=True)) overwrites it: the network goes on with a copy
        seen[module].append((args[0][:, :1].detach().clone(), output))
        return output.clone()

    hooks = [m.register_forward_hook(keep) for m in modules]
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)  # a graph from the input, for layers whose parameters come first
            logits = model(x)
            calls = [(m, inp, output) for m in modules for inp, output in seen[m]]
            columns = []
            for c in range(logits.shape[1]):
                grads = torch.autograd.grad(logits[:, c].sum(), [output for _, _, output in calls], retain_graph=True,
                                            allow_unused=True)
                per_param = {}
                for (module, inp, output), grad in zip(calls, grads):
                    grad = torch.zeros_like(output) if grad is None else grad
                    for attr, value in _element_grads(module, inp, grad).items():
                        per_param[(module, attr)] = per_param.get((module, attr), 0) + value
                columns.append(torch.stack([per_param[owners[name]] for name in chosen], dim=1))
    finally:
        for hook in hooks:
            hook.remove()
    return logits.detach(), torch.stack(columns, dim=1)


def _element_grads(module: nn.Module, inp: torch.Tensor, grad: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image, the gradient with respect to element 0 of each parameter of ``module``, from the module's
    input and the gradient of its output (one call)."""
    channel = grad[:, 0].reshape(len(grad), -1)
    found = {"bias": channel.sum(dim=1)} if getattr(module, "bias", None) is not None else {}
    if isinstance(module, nn.Linear):
        found["weight"] = grad[:, 0] * inp[:, 0]
    elif isinstance(module, nn.Conv2d):
        padded = torch.nn.functional.pad(inp[:, :1], [p for p in reversed(module.padding) for _ in range(2)])
        (sh, sw), (h, w) = module.stride, grad.shape[2:]
        found["weight"] = (grad[:, 0] * padded[:, 0, : h * sh : sh, : w * sw : sw]).reshape(len(grad), -1).sum(dim=1)
    else:  # batch norm in eval mode: y = (x − mean) / √(var + eps) · weight + bias
        normalised = (inp[:, 0] - module.running_mean[0]) / torch.sqrt(module.running_var[0] + module.eps)
        found["weight"] = (grad[:, 0] * normalised).reshape(len(grad), -1).sum(dim=1)
    return found


def _functional_jacobian(model: nn.Module, x: torch.Tensor, chosen: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    named, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    units = {name: torch.zeros_like(named[name]).flatten().index_fill(0, torch.tensor([0], device=x.device), 1.0)
             .reshape(named[name].shape) for name in chosen}

    def logits(delta: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        params = {**named, **{name: named[name] + delta[i] * units[name] for i, name in enumerate(chosen)}}
        return functional_call(model, (params, buffers), (image[None],))[0]

    with torch.no_grad():
        out = model(x)
    zero = torch.zeros(len(chosen), device=x.device, dtype=x.dtype)
    return out, vmap(jacrev(logits), in_dims=(None, 0))(zero, x).detach()


def vkdnw_score(result: VkdnwPass) -> float:
    """The paper's order of (ℵ, entropy) as one number: ℵ + entropy / ln 9."""
    return result.tensors + result.entropy / math.log(9)


def vkdnw_entropy_score(result: VkdnwPass) -> float:
    return result.entropy


def vkdnw(net: nn.Module, batch_size: int = VKDNW_BATCH, tensors: int = VKDNW_TENSORS, *,
          generator: torch.Generator) -> float:
    return vkdnw_score(vkdnw_pass(net, batch_size, tensors, generator=generator))


def vkdnw_entropy(net: nn.Module, batch_size: int = VKDNW_BATCH, tensors: int = VKDNW_TENSORS, *,
                  generator: torch.Generator) -> float:
    return vkdnw_entropy_score(vkdnw_pass(net, batch_size, tensors, generator=generator))
