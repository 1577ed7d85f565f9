"""NASWOT v2 (the log-determinant of the ReLU activation-code kernel) and NASWOT v1
(the Jacobian-correlation score, at the end of this module).

Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training",
ICML 2021 (arXiv 2006.04647v2; v1 is arXiv 2006.04647v1, 2020); reference code
github.com/BayesWatch/nas-without-training (v2: ``score_networks.py``, ``hooklogdet``;
v1: ``search.py``, ``get_batch_jacobian`` and ``eval_score``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from cbred_ray.stats.numerics import StatisticFailed, finite, restored_state


def _unit_rows(codes: torch.Tensor) -> torch.Tensor:
    """(batch, units) view of per-unit codes in memory order (the kernel ignores unit order)."""
    if codes.dim() == 4 and codes.is_contiguous(memory_format=torch.channels_last):
        return codes.permute(0, 2, 3, 1).reshape(codes.shape[0], -1)
    return codes.reshape(codes.shape[0], -1)


class _CodeKernel:
    """Accumulates K_H = sum over ReLU units of c c^T + (1-c)(1-c)^T, one ReLU at a time.

    With G = C C^T and s_i = G_ii = sum_k c_ik over N units, K_H = N + 2G - s_i - s_j, so one
    Gram matrix per ReLU suffices. Each per-ReLU Gram of 0/1 codes is an exact integer in
    float32 (< 2^24 units per layer); the running sum is float64. Several ReLUs that read
    the same tensor (edges leaving one cell node) give the same codes: their Gram is reused.
    """

    _CACHE_SIZE = 4  # a cell reads at most three distinct source nodes

    def __init__(self, batch_size: int, device: torch.device) -> None:
        self.gram = torch.zeros(batch_size, batch_size, dtype=torch.float64, device=device)
        self.units = 0
        self._recent: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        """Forward hook for nn.ReLU. The official code is ``input > 0``; ``sign(output)``
        is the same 0/1 code (ReLU output > 0 exactly where its input > 0), made in one op."""
        x = inputs[0]
        with torch.no_grad():
            self.gram += self._codes_gram(x, output.detach())
        self.units += x[0].numel()

    def _codes_gram(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        for seen, gram in self._recent:
            if seen is x:
                return gram
        codes = _unit_rows(torch.sign(output))
        gram = (codes @ codes.T).to(torch.float64)
        self._recent = [(x, gram), *self._recent[: self._CACHE_SIZE - 1]]
        return gram

    def matrix(self) -> torch.Tensor:
        """K_H[i, j]: the number of ReLU units on which samples i and j agree."""
        ones = self.gram.diagonal()
        return self.units + 2.0 * self.gram - ones[:, None] - ones[None, :]


class NaswotPass(NamedTuple):
    """What one pass of a batch through a network gives the two NASWOT scores."""

    kernel: torch.Tensor | None
    """K_H (float64, batch x batch), see ``relu_code_kernel``; None if not asked for."""
    jacobians: torch.Tensor | None
    """(batch, input features) float32, see ``input_jacobians``; None if not asked for."""
    classes: int = 0
    """The number of the network's outputs (its classes)."""


def naswot_pass(
    net: nn.Module, batch: torch.Tensor, train_mode: bool = True, codes: bool = True, jacobians: bool = True
) -> NaswotPass:
    """One forward pass of ``batch`` (and one backward pass if ``jacobians``) giving both
    NASWOT inputs at once: the ReLU-code kernel K_H from forward hooks on every ``nn.ReLU``
    (``codes``) and the input Jacobians J (``jacobians``).

    J[i] = ∂(Σ_j Σ_c f_c(X)_j) / ∂x_i, flattened: the gradient of the sum of all outputs of
    the batch with respect to the input batch, in one backward pass, as the v1 reference
    does (``y.backward(torch.ones_like(y)); x.grad``). In train mode BatchNorm normalises
    with batch statistics, so J[i] also carries the terms through which x_i moves the other
    samples' outputs, exactly as in the reference; in eval mode J[i] is sample i's own.

    Every ``nn.ReLU`` counts in K_H. The official v2 code counts the ReLUs that a backward
    pass reaches; in NB201 that is all of them, because its ``none`` op is ``x.mul(0.)``,
    which keeps each edge on the autograd path to the output. An image batch runs
    channels-last (NHWC), which oneDNN convolutions and pooling run about twice as fast
    on CPU. The caller's parameters, gradients, mode and BatchNorm buffers are unchanged.
    """
    kernel = _CodeKernel(batch.shape[0], batch.device) if codes else None
    handles = [m.register_forward_hook(kernel.hook) for m in net.modules() if isinstance(m, nn.ReLU)] if codes else []
    x = batch.detach().clone()
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    try:
        with restored_state(net), torch.set_grad_enabled(jacobians):
            net.train(train_mode)
            x.requires_grad_(jacobians)
            output = net(x)
            jac = None
            if jacobians and output.requires_grad:
                jac = torch.autograd.grad(output.sum(), x, allow_unused=True)[0]
            if jac is not None:
                jac = jac.reshape(x.shape[0], -1)
            elif jacobians:  # the output does not depend on the input (a cell with no path through it)
                jac = torch.zeros(x.shape[0], x[0].numel(), device=x.device)
    finally:
        for handle in handles:
            handle.remove()
    if codes and kernel.units == 0:
        raise StatisticFailed("network has no ReLU units")
    return NaswotPass(None if kernel is None else kernel.matrix(), jac, int(output.shape[-1]))


def relu_code_kernel(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> torch.Tensor:
    """The NASWOT kernel K_H (float64, batch x batch) of ``net`` on ``batch``: K_H[i, j] is
    the number of ReLU units on which samples i and j agree. A forward pass only; see
    ``naswot_pass``."""
    return naswot_pass(net, batch, train_mode, codes=True, jacobians=False).kernel


def v2_score(kernel: torch.Tensor) -> float:
    """log|det K_H|; StatisticFailed when K_H is singular (e.g. every sample has the same code)."""
    sign, logabsdet = torch.linalg.slogdet(kernel)
    if sign.item() == 0 or not torch.isfinite(logabsdet):
        raise StatisticFailed("singular NASWOT kernel")
    return float(logabsdet)


def naswot_v2(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> float:
    """NASWOT score: log|det K_H| of the ReLU binary-code kernel. Higher is better.

    Definition (Mellor et al. 2021, v2): for each sample, the binary code of every ReLU unit
    (1 where the ReLU input is positive); K_H[i, j] = sum over units of agreement between
    samples i and j (units minus Hamming distance); score = ``slogdet(K_H)`` log-abs-det.
    Published setup: batch of 128 images, untrained network in train mode (``train_mode``).
    Raises StatisticFailed when K_H is singular (e.g. every sample has the same code).
    """
    return v2_score(relu_code_kernel(net, batch, train_mode))


# --------------------------------------------------------------------------------------------
# NASWOT v1: the Jacobian-correlation score.
# --------------------------------------------------------------------------------------------


def input_jacobians(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> torch.Tensor:
    """J (float32, batch x input features): the input Jacobians of ``naswot_pass`` alone."""
    return naswot_pass(net, batch, train_mode, codes=False, jacobians=True).jacobians


def v1_score(jacobians: torch.Tensor, k: float = 1e-5) -> float:
    """-Σ_i [log(σ_i + k) + 1/(σ_i + k)] over the eigenvalues σ_i of corrcoef(J), float64.

    Raises StatisticFailed when J is not finite or a sample's Jacobian is constant (zero
    variance: the correlation is undefined, the reference gets NaN), or the score is not finite.
    """
    jac = jacobians.double()
    if not torch.isfinite(jac).all():
        raise StatisticFailed("non-finite input Jacobian")
    if jac.shape[0] < 2:
        raise StatisticFailed("NASWOT v1 needs at least two samples")
    if bool((jac.std(dim=1) == 0).any()):
        raise StatisticFailed("a sample's input Jacobian is constant: correlation undefined")
    eigenvalues = torch.linalg.eigvalsh(torch.corrcoef(jac))
    shifted = eigenvalues + k
    if bool((shifted <= 0).any()):
        raise StatisticFailed(f"correlation eigenvalue {float(eigenvalues.min())} <= -k")
    return finite(-(torch.log(shifted) + 1.0 / shifted).sum(), "naswot_v1")


def naswot_v1(net: nn.Module, batch: torch.Tensor, train_mode: bool = True, k: float = 1e-5) -> float:
    """NASWOT v1 score: -Σ_i [log(σ_i + k) + 1/(σ_i + k)] over the eigenvalues σ_i of the
    correlation matrix of the per-sample input Jacobians. Higher is better.

    Definition: Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without
    Training", arXiv 2006.04647v1 (2020), Eq. for S; reference code github.com/BayesWatch/
    nas-without-training at the v1 commit, ``search.py``: ``get_batch_jacobian`` (``y.backward
    (torch.ones_like(y))``, ``x.grad``) and ``eval_score`` (``np.corrcoef`` of the (batch,
    3*32*32) Jacobians, ``np.linalg.eig``, ``k = 1e-5``). Here: J from ``naswot_pass`` (one
    backward pass), Σ = ``torch.corrcoef`` in float64, σ = ``eigvalsh`` (Σ is symmetric;
    the reference's general ``eig`` returns the same real spectrum); see ``v1_score``.

    Published setup: the reference builds each network and scores it at once, so the
    network is in *train* mode (a fresh module's default; it never calls ``eval()``):
    ``train_mode=True`` by default, and BatchNorm uses the batch statistics; default PyTorch
    initialisation; one batch (``search.py`` default 256 images); a network built with
    ``num_classes=1``. With C classes the summed output is one linear read-out with weight
    Σ_c w_c, and correlations ignore its scale, so only the direction of that random
    read-out differs from a 1-class network: same statistic, not bit-identical values.
    """
    return v1_score(input_jacobians(net, batch, train_mode), k)
