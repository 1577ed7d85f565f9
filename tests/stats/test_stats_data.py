import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from cbred_ray.errors import BadInput
from cbred_ray.stats import load_batch
from cbred_ray.stats.data import (
    BUILTIN_SOURCES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    batch_sha256,
)

SAMPLE = BUILTIN_SOURCES["cifar100-sample25"]
CIFAR10_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "cifar10" / "cifar10_sample20.npz"


def normalise(images_nhwc: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)


def test_synthetic_is_seeded():
    a, _, da = load_batch(None, 8, seed=1)
    b, _, db = load_batch(None, 8, seed=1)
    c, _, dc = load_batch(None, 8, seed=2)
    assert a.shape == (8, 3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b) and da == db and da["sha256"] != dc["sha256"]
    assert da["kind"] == "synthetic" and da["path"] is None and da["sha256"] == batch_sha256(a)


def test_npz_sample_enlarged_with_augmentation():
    batch, _, desc = load_batch(str(SAMPLE), 64, seed=0)
    originals = np.load(SAMPLE)["images"]
    assert batch.shape == (64, 3, 32, 32)
    assert torch.allclose(batch[:25], normalise(originals))
    assert desc["kind"] == "npz" and desc["n_images_source"] == 25 and desc["n_images"] == 64
    again, _, desc2 = load_batch(str(SAMPLE), 64, seed=0)
    assert torch.equal(batch, again) and desc == desc2
    assert load_batch(str(SAMPLE), 64, seed=1)[2]["sha256"] != desc["sha256"]


@pytest.mark.parametrize("seed", range(4))
def test_an_enlarged_batch_never_repeats_an_image(seed):
    batch, _, _ = load_batch(str(SAMPLE), 512, seed=seed)
    flat = batch.reshape(len(batch), -1)
    distances = torch.cdist(flat, flat) + torch.eye(len(batch))
    assert bool((distances > 0).all())  # two equal images would make NASWOT's kernel singular


def test_more_crops_than_distinct_ones_is_bad_input(tmp_path):
    one = tmp_path / "one.npz"
    np.savez(one, images=np.load(SAMPLE)["images"][:1])
    assert load_batch(str(one), 1 + 161, seed=0)[0].shape[0] == 162  # 81 offsets x 2 flips, less the image
    with pytest.raises(BadInput, match="163 distinct crops|162 distinct crops"):
        load_batch(str(one), 1 + 162, seed=0)


def test_builtin_sample_is_the_shipped_npz_and_the_default_source():
    from cbred_ray.config import DataConfig

    assert DataConfig().source == "cifar100-sample25"
    batch, _, desc = load_batch("cifar100-sample25", 128, seed=0)
    from_file, _, _ = load_batch(str(SAMPLE), 128, seed=0)
    assert torch.equal(batch, from_file)
    assert desc["kind"] == "builtin" and desc["path"] == "cifar100-sample25" and desc["n_images"] == 128
    images = np.load(SAMPLE)
    assert images["images"].shape == (25, 32, 32, 3) and images["images"].dtype == np.uint8


def test_an_npz_that_names_its_dataset_is_normalised_as_it(tmp_path):
    shipped = np.load(BUILTIN_SOURCES["cifar10-sample20"])
    named = tmp_path / "first8.npz"
    np.savez(named, images=shipped["images"][:8], labels=shipped["labels"][:8], dataset="cifar10")
    batch, labels, desc = load_batch(str(named), 8, seed=0)
    assert desc["normalised_as"] == "cifar10"
    builtin, builtin_labels, _ = load_batch("cifar10-sample20", 20, seed=0)
    assert torch.equal(batch, builtin[:8]) and torch.equal(labels, builtin_labels[:8])
    unnamed = tmp_path / "unnamed.npz"
    np.savez(unnamed, images=shipped["images"][:8])
    assert load_batch(str(unnamed), 8, seed=0)[2]["normalised_as"] == "cifar100"
    np.savez(tmp_path / "svhn.npz", images=shipped["images"][:8], dataset="svhn")
    with pytest.raises(BadInput, match="'svhn'"):
        load_batch(str(tmp_path / "svhn.npz"), 8, seed=0)


def test_npz_sample_without_augmentation_is_smaller():
    batch, _, desc = load_batch(str(SAMPLE), 64, seed=0, augment=False)
    assert batch.shape == (25, 3, 32, 32) and desc["n_images"] == 25 and desc["batch_size"] == 64
    assert "smaller" in desc["how"]


def write_fake_cifar100(folder: Path, n: int) -> np.ndarray:
    """A cifar-100-python folder whose 'test' pickle holds n random images."""
    rows = np.random.default_rng(0).integers(0, 256, size=(n, 3072), dtype=np.uint8)
    folder.mkdir()
    with (folder / "test").open("wb") as handle:
        pickle.dump({b"data": rows, b"fine_labels": list(range(n))}, handle)
    return rows


def test_cifar100_python_folder(tmp_path):
    rows = write_fake_cifar100(tmp_path / "cifar-100-python", 10)
    batch, _, desc = load_batch(str(tmp_path / "cifar-100-python"), 4, seed=0)
    assert batch.shape == (4, 3, 32, 32)
    assert desc["kind"] == "cifar-100-python" and desc["n_images_source"] == 10
    expected = normalise(rows.reshape(10, 3, 32, 32).transpose(0, 2, 3, 1))
    assert all(any(torch.allclose(img, ref) for ref in expected) for img in batch)


def test_builtin_cifar10_sample_is_the_shared_file_normalised_as_cifar10():
    shipped = np.load(BUILTIN_SOURCES["cifar10-sample20"])
    if CIFAR10_SAMPLE.is_file():  # the packaged copy is the shared sample, byte for byte
        assert BUILTIN_SOURCES["cifar10-sample20"].read_bytes() == CIFAR10_SAMPLE.read_bytes()
    assert shipped["images"].shape == (20, 32, 32, 3) and shipped["labels"].tolist()[:4] == [3, 8, 8, 0]
    batch, _, desc = load_batch("cifar10-sample20", 20, seed=0)
    assert desc["normalised_as"] == "cifar10" and desc["n_images"] == 20
    pixels = torch.from_numpy(shipped["images"].transpose(0, 3, 1, 2).copy()).float() / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (CIFAR10_MEAN, CIFAR10_STD))
    torch.testing.assert_close(batch, (pixels - mean) / std, rtol=0, atol=1e-6)
    assert load_batch("cifar100-sample25", 8, seed=0)[2]["normalised_as"] == "cifar100"


def test_cifar10_batches_folder(tmp_path):
    rows = np.random.default_rng(1).integers(0, 256, size=(6, 3072), dtype=np.uint8)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with (folder / "test_batch").open("wb") as handle:
        pickle.dump({b"data": rows, b"labels": list(range(6))}, handle)
    batch, _, desc = load_batch(str(folder), 6, seed=0)
    assert desc["kind"] == "cifar-10-batches-py" and desc["normalised_as"] == "cifar10"
    pixels = torch.from_numpy(rows.reshape(6, 3, 32, 32)).float() / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (CIFAR10_MEAN, CIFAR10_STD))
    assert all(any(torch.allclose(img, ref) for ref in (pixels - mean) / std) for img in batch)


def test_bad_sources(tmp_path):
    with pytest.raises(BadInput, match="nowhere.npz"):
        load_batch(str(tmp_path / "nowhere.npz"), 4, seed=0)
    np.savez(tmp_path / "wrong.npz", pixels=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(BadInput, match="wrong.npz"):
        load_batch(str(tmp_path / "wrong.npz"), 4, seed=0)
    np.savez(tmp_path / "shape.npz", images=np.zeros((2, 28, 28, 3), np.uint8))
    with pytest.raises(BadInput, match="shape.npz"):
        load_batch(str(tmp_path / "shape.npz"), 4, seed=0)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(BadInput, match="empty_dir"):
        load_batch(str(tmp_path / "empty_dir"), 4, seed=0)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "test").write_bytes(b"not a pickle")
    with pytest.raises(BadInput, match="garbage"):
        load_batch(str(tmp_path / "garbage"), 4, seed=0)
    with pytest.raises(BadInput, match="0"):
        load_batch(None, 0, seed=0)


def test_labels_follow_their_images_through_subsets_and_crops():
    """Each image of the batch carries its source image's label: the originals theirs, every crop its source's."""
    archive = np.load(SAMPLE)
    originals, labels = normalise(archive["images"]), torch.from_numpy(archive["labels"])
    pixels = torch.from_numpy(archive["images"].transpose(0, 3, 1, 2).copy()).float() / 255
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in (CIFAR100_MEAN, CIFAR100_STD))
    padded = (torch.nn.functional.pad(pixels, (4,) * 4) - mean) / std  # zero padding before normalising
    batch, got, desc = load_batch(str(SAMPLE), 64, seed=3)
    assert got.dtype == torch.int64 and got.shape == (64,) and torch.equal(got[:25], labels)
    for image, label in zip(batch[25:], got[25:]):
        # the crop lies inside its source image, padded (up to a flip): find which source it matches
        matches = [i for i in range(25) for flip in (False, True) for dy in range(9) for dx in range(9)
                   if torch.allclose((padded[i].flip(-1) if flip else padded[i])[:, dy:dy + 32, dx:dx + 32], image)]
        assert matches and all(labels[i] == label for i in matches)
    subset, subset_labels, _ = load_batch(str(SAMPLE), 10, seed=3)
    for image, label in zip(subset, subset_labels):
        assert labels[[bool(torch.equal(image, o)) for o in originals].index(True)] == label
    assert desc["labelled"] and desc["n_classes_seen"] == len(set(archive["labels"].tolist()))


def test_folder_labels_and_unlabelled_sources(tmp_path):
    write_fake_cifar100(tmp_path / "cifar-100-python", 10)
    batch, labels, _ = load_batch(str(tmp_path / "cifar-100-python"), 4, seed=0)
    assert labels is not None and labels.shape == (4,) and (labels < 10).all()
    assert load_batch(None, 4, seed=0)[1] is None and not load_batch(None, 4, seed=0)[2]["labelled"]
    bare = tmp_path / "bare.npz"
    np.savez(bare, images=np.load(SAMPLE)["images"])
    assert load_batch(str(bare), 4, seed=0)[1] is None
    bad = tmp_path / "bad_labels.npz"
    np.savez(bad, images=np.load(SAMPLE)["images"], labels=np.arange(3))
    with pytest.raises(BadInput, match="labels in .*bad_labels.npz"):
        load_batch(str(bad), 4, seed=0)
