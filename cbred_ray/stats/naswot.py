"""NASWOT (v2): the log-determinant of the ReLU activation-code kernel.

Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training",
ICML 2021 (arXiv 2006.04647v2); reference code github.com/BayesWatch/nas-without-training
(``score_networks.py``, ``hooklogdet``).
"""

from __future__ import annotations

import torch
from torch import nn

from cbred_ray.stats.numerics import StatisticFailed, restored_state


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
