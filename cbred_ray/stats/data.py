"""The input batch for data-dependent statistics: synthetic, an .npz sample, CIFAR-100 or CIFAR-10.

Sources: ``None`` (seeded standard-normal batch), the built-in samples ``"cifar100-sample25"``
(25 real CIFAR-100 test images) and ``"cifar10-sample20"`` (the first 20 CIFAR-10 test images),
shipped with the package (see ``samples/README.md``), a ``.npz`` file with an ``images`` uint8
array (N, 32, 32, 3), or torchvision's ``cifar-100-python`` or ``cifar-10-batches-py`` folder
(its test pickle, read without torchvision). Real images are scaled to [0, 1] and normalised with
the channel means and standard deviations of their dataset (CIFAR-100's for an ``.npz``).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch

from cbred_ray.catalog import BUILTIN_DATASET, BUILTIN_SOURCES
from cbred_ray.errors import BadInput

CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
NORMALISATION = {"cifar100": (CIFAR100_MEAN, CIFAR100_STD), "cifar10": (CIFAR10_MEAN, CIFAR10_STD)}
IMAGE_SHAPE = (3, 32, 32)
CROP_PADDING = 4
_FOLDERS = {"cifar-100-python": ("test", "cifar100"), "cifar-10-batches-py": ("test_batch", "cifar10")}
"""torchvision's folder layouts: the test pickle each holds and its dataset."""


def _read_npz(path: Path) -> np.ndarray:
    """The ``images`` array (N, 32, 32, 3) uint8 of an .npz file, as (N, 3, 32, 32)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
    except (OSError, ValueError, KeyError) as err:
        raise BadInput(f"cannot read an 'images' array from {str(path)!r}: {err}") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise BadInput(
            f"'images' in {str(path)!r} must be uint8 (N, 32, 32, 3), got {images.dtype} {images.shape}"
        )
    return images.transpose(0, 3, 1, 2)


def _read_cifar_python(folder: Path, pickle_name: str, kind: str) -> np.ndarray:
    """The test split of a ``cifar-100-python`` or ``cifar-10-batches-py`` folder, as (N, 3, 32, 32) uint8.

    The official format is a pickle, so (as with torchvision) only point this at a
    folder you trust.
    """
    path = folder / pickle_name
    try:
        with path.open("rb") as handle:
            entries = pickle.load(handle, encoding="bytes")
        rows = np.asarray(entries.get(b"data", entries.get("data")), dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != 3 * 32 * 32:
            raise ValueError(f"'data' must have shape (N, 3072), got {rows.shape}")
        images = rows.reshape(-1, *IMAGE_SHAPE)
    except Exception as err:  # a damaged pickle can raise almost anything
        raise BadInput(f"{str(folder)!r} is not a {kind} folder (reading {pickle_name!r}: {err})") from None
    return images


def _read_source(source: str) -> tuple[str, str, np.ndarray]:
    """(kind, dataset, images as (N, 3, 32, 32) uint8) for a built-in or path source; BadInput if unusable."""
    if source in BUILTIN_SOURCES:
        return "builtin", BUILTIN_DATASET[source], _read_npz(BUILTIN_SOURCES[source])
    path = Path(source)
    if path.is_dir():
        kind = next((k for k, (name, _) in _FOLDERS.items() if (path / name).is_file()), "cifar-100-python")
        pickle_name, dataset = _FOLDERS[kind]
        images = _read_cifar_python(path, pickle_name, kind)
    elif path.is_file() and path.suffix == ".npz":
        kind, dataset, images = "npz", "cifar100", _read_npz(path)
    else:
        raise BadInput(f"batch source {source!r} is neither an .npz file nor a cifar-100-python or "
                       "cifar-10-batches-py folder")
    if len(images) == 0:
        raise BadInput(f"batch source {source!r} holds no images")
    return kind, dataset, images


def _augment(images: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` seeded random crops (zero padding 4) with random horizontal flips, all distinct.

    Each crop is a different (image, offset, flip) triple, drawn without replacement, and
    never the identity (the centred, unflipped crop, which is the image itself): a batch
    with two identical images makes NASWOT's kernel and the NTK exactly singular. Raises
    BadInput when the images cannot give ``count`` distinct crops.
    """
    offsets = 2 * CROP_PADDING + 1
    per_image = offsets * offsets * 2
    identity = (CROP_PADDING * offsets + CROP_PADDING) * 2  # centred offset, not flipped
    choices = torch.randperm(len(images) * per_image, generator=generator)
    choices = choices[choices % per_image != identity][:count]
    if len(choices) < count:
        raise BadInput(f"cannot make {count} distinct crops from {len(images)} images")
    padded = torch.nn.functional.pad(images, (CROP_PADDING,) * 4)
    crops = []
    for choice in choices.tolist():
        pick, rest = divmod(choice, per_image)
        (dy, dx), flip = divmod(rest // 2, offsets), rest % 2 == 1
        crop = padded[pick, :, dy : dy + 32, dx : dx + 32]
        crops.append(crop.flip(-1) if flip else crop)
    return torch.stack(crops)


def _real_batch(images: np.ndarray, batch_size: int, augment: bool, generator: torch.Generator,
                dataset: str = "cifar100") -> tuple[torch.Tensor, str]:
    """A normalised batch from real images (with ``dataset``'s channel statistics), and how it was formed."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32) / 255.0
    if len(pixels) >= batch_size:
        chosen = torch.randperm(len(pixels), generator=generator)[:batch_size].sort().values
        pixels, how = pixels[chosen], f"seeded random subset of {batch_size} of {len(images)} images"
    elif augment:
        extra = _augment(pixels, batch_size - len(pixels), generator)
        pixels = torch.cat([pixels, extra])
        how = (f"all {len(images)} images plus {len(extra)} distinct seeded random crops (pad {CROP_PADDING}) "
               "and flips")
    else:
        how = f"only {len(images)} images exist and augment is off: the batch is smaller than {batch_size}"
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALISATION[dataset])
    return ((pixels - mean) / std).contiguous(), how


def batch_sha256(batch: torch.Tensor) -> str:
    """sha256 of the batch tensor's bytes (float32, C order)."""
    return hashlib.sha256(batch.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def load_batch(source: str | None, batch_size: int, seed: int, augment: bool = True) -> tuple[torch.Tensor, dict]:
    """A (batch, N, 3, 32, 32) float32 input batch and its description for a run manifest.

    ``source`` None gives a seeded standard-normal batch; a path gives real images (see
    the module docstring). With more real images than ``batch_size``, a seeded random
    subset is taken; with fewer, ``augment`` fills the batch with seeded random crops and
    flips, otherwise the batch holds just the real images (smaller than ``batch_size``).
    The description has: kind, path, normalised_as (the dataset whose channel statistics were used),
    n_images_source, batch_size (requested), n_images
    (returned), augment, seed, how (a sentence) and sha256 (of the batch tensor's bytes).
    Raises BadInput for a bad batch size, path or file.
    """
    if batch_size < 1:
        raise BadInput(f"batch_size must be at least 1, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    if source is None:
        kind, n_source, dataset = "synthetic", None, None
        batch = torch.randn((batch_size, *IMAGE_SHAPE), generator=generator)
        how = f"{batch_size} seeded standard-normal images"
    else:
        kind, dataset, images = _read_source(source)
        n_source = len(images)
        batch, how = _real_batch(images, batch_size, augment, generator, dataset)
    description = {
        "kind": kind,
        "path": None if source is None else str(source),
        "normalised_as": dataset,
        "n_images_source": n_source,
        "batch_size": batch_size,
        "n_images": len(batch),
        "augment": augment,
        "seed": seed,
        "how": how,
        "sha256": batch_sha256(batch),
    }
    return batch, description
