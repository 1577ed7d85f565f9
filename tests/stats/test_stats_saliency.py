"""The loss-gradient statistics (grad_norm, snip, grasp, fisher, plain) and EPE-NAS, each checked against
its definition computed another way: ``.backward()`` on a copy, per-layer output gradients kept with
``retain_grad``, the Hessian-vector product of ``torch.autograd.functional``, numpy's corrcoef."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stats_helpers import MIXED, SMALL, batch16, labels16, small_net
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.stats import compute_stats, load_batch
from cbred_ray.stats.engine import effective_settings
from cbred_ray.stats.saliency import fisher, grad_norm, gradient_pass, grasp, plain, snip
from cbred_ray.stats.zero_cost import epe_nas

SALIENCY = ["grad_norm", "snip", "fisher", "plain"]


def _scored(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _backward_grads(net, batch, labels):
    """Gradients of the cross-entropy by a plain ``.backward()`` on a copy of ``net`` (train mode)."""
    net = copy.deepcopy(net).train()
    net.zero_grad()
    F.cross_entropy(net(batch), labels).backward()
    return [(m.weight.detach(), m.weight.grad.detach()) for m in _scored(net)]


def test_grad_norm_snip_plain_follow_their_definitions():
    net, batch, labels = small_net(), batch16(), labels16()
    pairs = _backward_grads(net, batch, labels)
    assert grad_norm(net, batch, labels) == pytest.approx(float(sum(g.norm() for _, g in pairs)), rel=1e-5)
    assert snip(net, batch, labels) == pytest.approx(float(sum((g * w).abs().sum() for w, g in pairs)), rel=1e-5)
    assert plain(net, batch, labels) == pytest.approx(float(sum((g * w).sum() for w, g in pairs)), rel=1e-4)
    assert all(m.weight.grad is None for m in _scored(net))  # the caller's network keeps no gradients


def test_the_labels_matter():
    net, batch, labels = small_net(), batch16(), labels16()
    other = (labels + 1) % 100
    assert grad_norm(net, batch, labels) != pytest.approx(grad_norm(net, batch, other), rel=1e-4)
    assert fisher(net, batch, labels) != pytest.approx(fisher(net, batch, other), rel=1e-4)


def test_fisher_is_the_channel_saliency_of_each_layer_output_times_its_fan_in():
    net, batch, labels = small_net(), batch16(), labels16()
    copy_net = copy.deepcopy(net).train()
    outputs = []

    def keep(module, inputs, output):
        output.retain_grad()
        outputs.append((module, output))

    handles = [m.register_forward_hook(keep) for m in _scored(copy_net)]
    F.cross_entropy(copy_net(batch), labels).backward()
    for h in handles:
        h.remove()
    by_hand = 0.0
    for module, out in outputs:
        out, grad = out.detach(), out.grad
        g_nk = (out * grad).sum(dim=(2, 3)) if out.dim() == 4 else out * grad
        by_hand += float((0.5 * g_nk.pow(2).mean(0)).sum()) * module.weight[0].numel()
    assert len(outputs) == len(_scored(net))
    assert fisher(net, batch, labels) == pytest.approx(by_hand, rel=1e-4)


def test_grasp_is_minus_w_times_the_hessian_gradient_product():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    batch, labels = torch.randn(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    weights = [net[0].weight, net[4].weight]

    def loss_of(w0, w4):
        x = F.conv2d(batch, w0, net[0].bias)
        x = F.batch_norm(x, None, None, net[1].weight, net[1].bias, training=True)
        return F.cross_entropy(F.linear(torch.relu(x).flatten(1), w4, net[4].bias), labels)

    g = torch.autograd.grad(loss_of(*weights), weights)
    _, hg = torch.autograd.functional.hvp(loss_of, tuple(w.detach() for w in weights), tuple(g))
    by_hand = float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg)))
    assert grasp(net, batch, labels) == pytest.approx(by_hand, rel=1e-4)
    assert grasp(net, batch, labels, temperature=2.0) != pytest.approx(by_hand, rel=1e-3)


def _epe_by_numpy(jacobians: np.ndarray, labels: np.ndarray, k: float = 1e-5) -> float:
    """EPE-NAS's eval_score_perclass (classes <= 100) as published: numpy, per class, vstack of rows."""
    score = 0.0
    for c in dict.fromkeys(labels.tolist()):
        rows = jacobians[labels == c]
        corrs = np.corrcoef(rows[0] if len(rows) == 1 else rows)
        score += abs(np.sum(np.log(np.abs(corrs) + k)))
    return score


def test_epe_nas_groups_the_input_jacobians_by_class():
    net, batch = small_net(), batch16()
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3, 3, 4, 5, 6, 0, 1, 7, 8])  # classes of 1 to 3 images
    x = batch.clone().requires_grad_(True)
    copy_net = copy.deepcopy(net).train()
    copy_net(x).sum().backward()
    jacobians = x.grad.reshape(16, -1).double().numpy()
    assert epe_nas(net, batch, labels) == pytest.approx(_epe_by_numpy(jacobians, labels.numpy()), rel=1e-5)
    assert epe_nas(net, batch, labels) != pytest.approx(epe_nas(net, batch, torch.arange(16) % 4), rel=1e-3)


def test_shared_passes_give_the_values_computed_alone():
    batch, labels = batch16(), labels16()
    together = compute_stats(MIXED, [*SALIENCY, "epe_nas", "jacov", "grasp"], batch, seed=3, labels=labels, **SMALL)
    for name in [*SALIENCY, "epe_nas", "jacov", "grasp"]:
        alone = compute_stats(MIXED, [name], batch, seed=3, labels=labels, **SMALL)[name]
        assert together[name][1] is None and together[name][0] == pytest.approx(alone[0], rel=1e-6), name
    settings = effective_settings([*SALIENCY, "epe_nas", "jacov"])
    assert {settings[n]["shared_pass"] for n in SALIENCY} == {"gradient"}
    assert settings["epe_nas"]["shared_pass"] == "naswot" and settings["epe_nas"]["images"] == 64


def test_the_pass_gives_one_gradient_per_scored_layer():
    net, batch, labels = small_net(), batch16(), labels16()
    result = gradient_pass(net, batch, labels)
    assert len(result.grads) == len(result.weights) == len(result.fisher) == len(_scored(net))
    assert all(g.shape == w.shape for g, w in zip(result.grads, result.weights))


def test_label_statistics_without_labels_or_with_a_foreign_label_are_bad_input():
    batch = batch16()
    with pytest.raises(BadInput, match="need labelled images"):
        compute_stats(MIXED, ["snip", "params"], batch, seed=0, **SMALL)
    with pytest.raises(BadInput, match="label 12 is not a class .*num_classes=10"):
        compute_stats(MIXED, ["snip"], batch, seed=0, num_classes=10, labels=torch.full((16,), 12), **SMALL)
    assert compute_stats(MIXED, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"][1] is None  # no labels needed


def test_the_built_in_images_label_a_real_batch():
    batch, labels, _ = load_batch("cifar10-sample20", 64, seed=0)
    results = compute_stats(MIXED, [*SALIENCY, "grasp", "epe_nas"], batch, seed=0, num_classes=10, labels=labels,
                            **SMALL)
    assert all(reason is None for _, reason in results.values()), results
