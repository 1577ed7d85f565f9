"""The TinyNet network in plain PyTorch: nothing here knows about cbred-ray."""
from __future__ import annotations

from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class Residual(nn.Module):
    """``relu(x + body(x))``: the shortcut around every block but the identity."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body, self.relu = body, nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.body(x))


def block(kind: str, c: int) -> nn.Module:
    if kind == "id":
        return nn.Identity()
    if kind == "b3":
        return Residual(nn.Sequential(conv_bn(c, c, 3), conv_bn(c, c, 3, relu=False)))
    if kind == "bn":
        m = max(1, c // 4)
        return Residual(nn.Sequential(conv_bn(c, m, 1), conv_bn(m, m, 3), conv_bn(m, c, 1, relu=False)))
    return Residual(nn.Sequential(conv_bn(c, c, 5, groups=c), conv_bn(c, c, 1, relu=False)))  # d5


def tinynet(blocks: list[str], channels: list[int], num_classes: int) -> nn.Sequential:
    """A 3x3 stem to ``channels[0]``; each stage after the first opens with a stride-2 3x3 convolution to
    its channels, then every stage runs its block; global average pooling and a linear classifier."""
    layers = [conv_bn(3, channels[0], 3)]
    for i, (kind, c) in enumerate(zip(blocks, channels)):
        if i:
            layers.append(conv_bn(channels[i - 1], c, 3, stride=2))
        layers.append(block(kind, c))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], num_classes))
