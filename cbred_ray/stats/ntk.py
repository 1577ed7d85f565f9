"""The condition number of the empirical neural tangent kernel (NTK), as in TE-NAS.

Chen, Gong, Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically
Inspired Perspective", ICLR 2021 (arXiv 2102.11535); reference code github.com/VITA-Group/TENAS,
``lib/procedures/ntk.py`` (``get_ntk_n``), called from ``prune_tenas.py`` with the settings
of ``prune_launch.py``.

What the reference does, exactly:

- network in train mode (``get_ntk_n(..., train_mode=True, num_batch=1)``): BatchNorm
  normalises with the statistics of the batch;
- one forward pass of the whole batch, then per sample i ``logit[i:i+1].backward(ones)``
  (``retain_graph``): the gradient of s_i = Σ_c logit_ic with respect to the parameters,
  through the batch-mode graph (so it includes the terms through the BN batch statistics);
- only parameters whose name contains ``"weight"`` (convolution, linear and BN scale
  weights; biases are left out) and that received a gradient;
- Θ = G Gᵀ (batch x batch, ``einsum('nc,mc->nm')``), eigenvalues by ``symeig`` in float32,
  score ``λ_max / λ_min``; no guard for λ_min ≤ 0;
- NAS-Bench-201 launch settings: batch 72 (``prune_launch.py``; the argparse default is 16),
  ``repeat 3`` (three calls, each on a fresh batch from a shuffled loader, averaged as the
  relative change of the score between a supernet and the supernet minus one op);
- initialisation: the code means to re-initialise with Kaiming-normal (``init_model(...,
  init + "_fanout")``), but the launch passes ``--init kaiming_normal``, which makes the
  method name ``"kaiming_normal_fanout"``; ``init_model`` only knows ``"kaiming_norm_fanin"``
  and ``"kaiming_norm_fanout"`` and silently does nothing, so the released code runs with
  PyTorch's default initialisation. We do the same (no re-initialisation).

Where this implementation departs: the engine gives it 32 images by default
(``registry.NTK_BATCH``: the batch size this project's method description gives for the
NTK; 72 is one option away, ``{ntk_cond: {batch_size: 72}}``, at about five times the
cost, since the cost grows as the square of the batch); it scores one NB201 network
(TE-NAS scores a C=3, N=1 supernet during pruning); Θ is accumulated and diagonalised in float64 (``eigvalsh``);
λ_min ≤ 0 or a non-finite value raises StatisticFailed instead of returning a meaningless
ratio; there is no internal repeat (the function sees one network and one batch: averaging
over batches or seeds is the caller's choice, and the engine records both).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

from cbred_ray.stats.numerics import StatisticFailed, finite, restored_state


def _scored_names(net: nn.Module, weights_only: bool) -> list[str]:
    return [name for name, _ in net.named_parameters() if not weights_only or "weight" in name]


def _gram(grads: dict[str, torch.Tensor], batch_size: int) -> torch.Tensor:
    """Θ = Σ over parameter tensors of G_p G_pᵀ, G_p the (batch, numel) per-sample gradients.

    One parameter tensor at a time, so the full (batch, #params) matrix is never concatenated;
    each product in float32 (as the reference), the sum in float64.
    """
    theta = torch.zeros(batch_size, batch_size, dtype=torch.float64, device=next(iter(grads.values())).device)
    for g in grads.values():
        rows = g.reshape(batch_size, -1)
        theta += (rows @ rows.T).double()
    return theta


def ntk_matrix(
    net: nn.Module,
    batch: torch.Tensor,
    train_mode: bool = True,
    weights_only: bool = True,
    chunk_size: int | None = 1,
) -> torch.Tensor:
    """The empirical NTK Θ[i, j] = <∂s_i/∂θ, ∂s_j/∂θ> (float64, batch x batch), s_i = Σ_c f_c(x_i).

    ``train_mode=True`` (the reference): one forward pass of the whole batch (BatchNorm uses
    the batch statistics), then the B vector-Jacobian products with the unit cotangents
    e_1..e_B: ``torch.func.jacrev`` of the B per-sample sums (``functional_call``), which
    vmaps the vjp over the cotangents, ``chunk_size`` of them per batched backward pass.
    That is exactly the reference's per-sample ``backward`` loop, including the gradient
    through the batch statistics, at the same cost: B backward passes through the batch
    graph (O(B²) sample-passes; no exact shortcut, since through BN every s_i depends on
    every sample). Running each sample alone under ``vmap(grad)`` would be about B times
    cheaper but is a different statistic in train mode (BN would normalise each image by
    its own H x W statistics), and freezing the batch statistics as constants would drop
    the ∂μ/∂θ, ∂σ/∂θ terms; neither is used.

    ``train_mode=False``: samples are independent, so the per-sample gradients are computed
    exactly and cheaply as ``vmap(grad(...))`` over single samples.

    ``weights_only``: score only parameters whose name contains "weight" (the reference);
    False uses every parameter. ``chunk_size`` (train mode only): how many cotangents
    ``jacrev`` pushes through one batched backward pass (None: all B at once). It changes
    time and memory, not the value. Default 1: on CPU, B=32, a 1-cell-per-stage NB201 net,
    one thread, chunks of 1 took 5.9 s, of 8 took 9.2 s, all 32 at once 16 s (a batched
    cotangent makes the convolution weight-gradients run as slow grouped kernels), against
    7.7 s for the reference's Python loop of ``autograd.grad``. On a GPU larger chunks may pay.
    Measured alternatives, on CPU: batching all B cotangents through one backward pass
    (``is_grads_batched``) or replicating the batch B times with per-copy BatchNorm
    statistics (one backward over B² samples, weight gradients per copy from unfolded
    activations) were both slower than B single backward passes, whose time goes to the
    convolution, BatchNorm and pooling backward kernels themselves.
    The caller's parameters, gradients, mode and BatchNorm buffers are unchanged.
    """
    names = set(_scored_names(net, weights_only))
    if not names:
        raise StatisticFailed("network has no parameters to differentiate")
    scored = {name: p.detach() for name, p in net.named_parameters() if name in names}
    fixed = {name: p.detach() for name, p in net.named_parameters() if name not in names}
    # BatchNorm in train mode updates its running statistics in place: torch.func allows that
    # only on the transformed function's inputs, so the forward gets copies of the buffers.
    buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
    x = batch.detach()
    size = x.shape[0]

    with restored_state(net):
        net.train(train_mode)
        if train_mode:
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)

            def per_sample_sums(params: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> torch.Tensor:
                return functional_call(net, {**fixed, **params, **state}, (x,)).sum(dim=1)

            grads = jacrev(per_sample_sums, argnums=0, chunk_size=chunk_size)(scored, buffers)
        else:

            def sample_sum(
                params: dict[str, torch.Tensor], state: dict[str, torch.Tensor], sample: torch.Tensor
            ) -> torch.Tensor:
                return functional_call(net, {**fixed, **params, **state}, (sample[None],)).sum()

            grads = vmap(grad(sample_sum), in_dims=(None, None, 0))(scored, buffers, x)
    return _gram(grads, size)


def ntk_cond(
    net: nn.Module,
    batch: torch.Tensor,
    train_mode: bool = True,
    weights_only: bool = True,
    chunk_size: int | None = 1,
) -> float:
    """NTK condition number λ_max(Θ) / λ_min(Θ) of the empirical NTK on ``batch``. Lower is better.

    Definition and reference: see the module docstring (TE-NAS, ICLR 2021, ``get_ntk_n``).
    Θ from ``ntk_matrix`` (per-sample gradients of each sample's summed logits w.r.t. the
    "weight" parameters; train mode by default, as the reference), eigenvalues by
    ``torch.linalg.eigvalsh`` in float64. Published setup: NB201 batch 72, train mode,
    PyTorch default initialisation (see the module docstring), 3 repeats over batches done
    by the caller. Raises StatisticFailed when Θ is not finite or λ_min ≤ 0 (Θ singular,
    e.g. a network whose output does not depend on its weights; a Θ singular only up to
    rounding, e.g. two identical samples, can instead give a huge finite ratio).
    """
    theta = ntk_matrix(net, batch, train_mode, weights_only, chunk_size)
    if not torch.isfinite(theta).all():
        raise StatisticFailed("non-finite NTK")
    eigenvalues = torch.linalg.eigvalsh(theta)
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    if not smallest > 0.0:
        raise StatisticFailed(f"NTK is singular: smallest eigenvalue {smallest}")
    return finite(largest / smallest, "ntk_cond")
