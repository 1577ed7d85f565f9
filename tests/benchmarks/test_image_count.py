"""The image files of ``image_count.py``: the first COUNT images of a sample with their labels, normalised as
the sample's dataset, and a count the sample cannot give refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from cbred_ray.stats import load_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import image_count  # noqa: E402


@pytest.mark.parametrize("source, dataset, total", [("cifar10-sample20", "cifar10", 20),
                                                    ("cifar100-sample25", "cifar100", 25)])
def test_the_first_images_of_a_sample_keep_their_labels_and_dataset(tmp_path, source, dataset, total):
    path = image_count.first_images(source, 7, tmp_path / "images-7.npz")
    batch, labels, desc = load_batch(str(path), 7, seed=0)
    whole, whole_labels, _ = load_batch(source, total, seed=0)
    assert desc["normalised_as"] == dataset and desc["n_images_source"] == 7
    assert torch.equal(batch, whole[:7]) and torch.equal(labels, whole_labels[:7])
    with pytest.raises(SystemExit, match=str(total + 1)):
        image_count.first_images(source, total + 1, tmp_path / "too-many.npz")
    assert not (tmp_path / "too-many.npz").exists()
