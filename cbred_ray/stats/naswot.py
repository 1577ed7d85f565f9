"""NASWOT v2 (the log-determinant of the ReLU activation-code kernel) and NASWOT v1
(the Jacobian-correlation score, at the end of this module).

Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training",
ICML 2021 (arXiv 2006.04647v2; v1 is arXiv 2006.04647v1, 2020); reference code
github.com/BayesWatch/nas-without-training (v2: ``score_networks.py``, ``hooklogdet``;
v1: ``search.py``, ``get_batch_jacobian`` and ``eval_score``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

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
        self.gram += self._codes_gram(x, output)
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


def relu_code_kernel(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> torch.Tensor:
    """The NASWOT kernel K_H (float64, batch x batch) of ``net`` on ``batch``.

    Every ``nn.ReLU`` module counts. The official code counts the ReLUs that a backward
    pass reaches; in NB201 that is all of them, because its ``none`` op is ``x.mul(0.)``,
    which keeps each edge on the autograd path to the output. The caller's network keeps
    its mode and BatchNorm running statistics. An image batch is passed channels-last
    (NHWC), which oneDNN convolutions and pooling run about twice as fast on CPU.
    """
    kernel = _CodeKernel(batch.shape[0], batch.device)
    handles = [m.register_forward_hook(kernel.hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with restored_state(net), torch.no_grad():
            net.train(train_mode)
            net(batch.contiguous(memory_format=torch.channels_last) if batch.dim() == 4 else batch)
    finally:
        for handle in handles:
            handle.remove()
    if kernel.units == 0:
        raise StatisticFailed("network has no ReLU units")
    return kernel.matrix()


def naswot_v2(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> float:
    """NASWOT score: log|det K_H| of the ReLU binary-code kernel. Higher is better.

    Definition (Mellor et al. 2021, v2): for each sample, the binary code of every ReLU unit
    (1 where the ReLU input is positive); K_H[i, j] = sum over units of agreement between
    samples i and j (units minus Hamming distance); score = ``slogdet(K_H)`` log-abs-det.
    Published setup: batch of 128 images, untrained network in train mode (``train_mode``).
    Raises StatisticFailed when K_H is singular (e.g. every sample has the same code).
    """
    sign, logabsdet = torch.linalg.slogdet(relu_code_kernel(net, batch, train_mode))
    if sign.item() == 0 or not torch.isfinite(logabsdet):
        raise StatisticFailed("singular NASWOT kernel")
    return float(logabsdet)


# --------------------------------------------------------------------------------------------
# NASWOT v1: the Jacobian-correlation score.
# --------------------------------------------------------------------------------------------


def input_jacobians(net: nn.Module, batch: torch.Tensor, train_mode: bool = False) -> torch.Tensor:
    """J[i] = ∂(Σ_j Σ_c f_c(X)_j) / ∂x_i, flattened: float32, shape (batch, input features).

    The gradient of the sum of all outputs of the batch with respect to the input batch, in
    one backward pass (``torch.func.grad`` of ``functional_call``), as the v1 reference code
    does (``y.backward(torch.ones_like(y)); x.grad``). With ``train_mode=False`` (BatchNorm
    uses running statistics) the samples are independent and J[i] is exactly the gradient
    of sample i's summed outputs w.r.t. x_i. With ``train_mode=True`` BatchNorm normalises
    with batch statistics, so J[i] also carries the terms through which x_i moves the other
    samples' outputs: what the reference code would return for a network in train mode.
    The caller's parameters, gradients, mode and BatchNorm buffers are unchanged.
    """
    params = {name: p.detach() for name, p in net.named_parameters()}

    def summed_outputs(x: torch.Tensor, buffers: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(net, {**params, **buffers}, (x,)).sum()

    x = batch.detach()
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    # BatchNorm in train mode updates its running statistics in place: torch.func only allows
    # that on the transformed function's inputs, so it gets copies of the buffers.
    buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
    with restored_state(net):
        net.train(train_mode)
        jac = torch.func.grad(summed_outputs)(x, buffers)
    return jac.reshape(jac.shape[0], -1)


def naswot_v1(net: nn.Module, batch: torch.Tensor, train_mode: bool = False, k: float = 1e-5) -> float:
    """NASWOT v1 score: -Σ_i [log(σ_i + k) + 1/(σ_i + k)] over the eigenvalues σ_i of the
    correlation matrix of the per-sample input Jacobians. Higher is better.

    Definition: Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without
    Training", arXiv 2006.04647v1 (2020), Eq. for S; reference code github.com/BayesWatch/
    nas-without-training at the v1 commit, ``search.py``: ``get_batch_jacobian`` (``y.backward
    (torch.ones_like(y))``, ``x.grad``) and ``eval_score`` (``np.corrcoef`` of the (batch,
    3*32*32) Jacobians, ``np.linalg.eig``, ``k = 1e-5``). Here: J from ``input_jacobians``
    (one backward pass, see there), Σ = ``torch.corrcoef`` in float64, σ = ``eigvalsh`` (Σ
    is symmetric; the reference's general ``eig`` returns the same real spectrum).

    Published setup: the reference scores the network in *eval* mode (``network.eval()``),
    hence ``train_mode=False`` by default (then J is the exact per-sample Jacobian); default
    PyTorch initialisation; one batch (``search.py`` default 256 images); and a network built
    with ``num_classes=1``. With C classes the summed output is one linear read-out with
    weight Σ_c w_c, and correlations ignore its scale, so only the direction of that random
    read-out differs from a 1-class network: same statistic, not bit-identical values.

    Raises StatisticFailed when J is not finite or a sample's Jacobian is constant (zero
    variance: the correlation is undefined, the reference gets NaN), or the score is not finite.
    """
    jac = input_jacobians(net, batch, train_mode).double()
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
