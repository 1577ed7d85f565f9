"""The input batch for data-dependent statistics: synthetic, an .npz sample, CIFAR-100 or CIFAR-10.

Sources: ``None`` (seeded standard-normal batch), the built-in samples ``"cifar100-sample25"``
(25 real CIFAR-100 test images) and ``"cifar10-sample20"`` (the first 20 CIFAR-10 test images),
shipped with the package (see ``samples/README.md``), a ``.npz`` file with an ``images`` uint8
array (N, 32, 32, 3), optionally its ``labels`` (N,) and the name of its ``dataset`` (``cifar10`` or
``cifar100``), or torchvision's ``cifar-100-python`` or ``cifar-10-batches-py`` folder (its test pickle,
read without torchvision). Real images are scaled to [0, 1] and normalised with the channel means and
standard deviations of their dataset (for an ``.npz`` that names none, CIFAR-100's). Each image of the
batch carries the label of the image it came from (a crop, its source image's); a synthetic batch, or an
``.npz`` without ``labels``, has none.
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


def _checked_labels(labels, count: int, where: str) -> np.ndarray:
    """``labels`` as an int64 (count,) array of class ids >= 0; BadInput naming ``where`` otherwise."""
    labels = np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise BadInput(f"labels in {where} must be {count} non-negative integers, got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)


def _read_npz(path: Path) -> tuple[str, np.ndarray, np.ndarray | None]:
    """The dataset an .npz file names (CIFAR-100 if none), its ``images`` array (N, 32, 32, 3) uint8 as
    (N, 3, 32, 32), and its ``labels`` if any."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
            labels = archive["labels"] if "labels" in archive.files else None
            dataset = str(archive["dataset"]) if "dataset" in archive.files else "cifar100"
    except (OSError, ValueError, KeyError) as err:
        raise BadInput(f"cannot read an 'images' array from {str(path)!r}: {err}") from None
    if dataset not in NORMALISATION:
        raise BadInput(f"'dataset' in {str(path)!r} must be one of {', '.join(NORMALISATION)}, got {dataset!r}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise BadInput(
            f"'images' in {str(path)!r} must be uint8 (N, 32, 32, 3), got {images.dtype} {images.shape}"
        )
    if labels is not None:
        labels = _checked_labels(labels, len(images), repr(str(path)))
    return dataset, images.transpose(0, 3, 1, 2), labels


def _read_cifar_python(folder: Path, pickle_name: str, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The test split of a ``cifar-100-python`` or ``cifar-10-batches-py`` folder, as (N, 3, 32, 32) uint8,
    and its labels (CIFAR-100's fine labels) when the pickle holds them.

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
        found = next((entries[key] for key in (b"fine_labels", "fine_labels", b"labels", "labels") if key in entries),
                     None)
    except Exception as err:  # a damaged pickle can raise almost anything
        raise BadInput(f"{str(folder)!r} is not a {kind} folder (reading {pickle_name!r}: {err})") from None
    labels = None if found is None else _checked_labels(found, len(images), f"{str(folder)!r}")
    return images, labels


def read_source(source: str) -> tuple[str, str, np.ndarray, np.ndarray | None]:
    """(kind, dataset, images as (N, 3, 32, 32) uint8, labels (N,) or None) for a built-in or path source;
    BadInput if unusable."""
    if source in BUILTIN_SOURCES:
        _, images, labels = _read_npz(BUILTIN_SOURCES[source])
        return "builtin", BUILTIN_DATASET[source], images, labels
    path = Path(source)
    if path.is_dir():
        kind = next((k for k, (name, _) in _FOLDERS.items() if (path / name).is_file()), "cifar-100-python")
        pickle_name, dataset = _FOLDERS[kind]
        images, labels = _read_cifar_python(path, pickle_name, kind)
    elif path.is_file() and path.suffix == ".npz":
        kind, (dataset, images, labels) = "npz", _read_npz(path)
    else:
        raise BadInput(f"batch source {source!r} is neither an .npz file nor a cifar-100-python or "
                       "cifar-10-batches-py folder")
    if len(images) == 0:
        raise BadInput(f"batch source {source!r} holds no images")
    return kind, dataset, images, labels


def _augment(images: torch.Tensor, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` seeded random crops (zero padding 4) with random horizontal flips, all distinct, and
    the index of the image each was cropped from.

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
    crops, sources = [], []
    for choice in choices.tolist():
        pick, rest = divmod(choice, per_image)
        (dy, dx), flip = divmod(rest // 2, offsets), rest % 2 == 1
        crop = padded[pick, :, dy : dy + 32, dx : dx + 32]
        crops.append(crop.flip(-1) if flip else crop)
        sources.append(pick)
    return torch.stack(crops), torch.tensor(sources, dtype=torch.int64)


def _real_batch(images: np.ndarray, batch_size: int, augment: bool, generator: torch.Generator,
                dataset: str = "cifar100") -> tuple[torch.Tensor, torch.Tensor, str]:
    """A normalised batch from real images (with ``dataset``'s channel statistics), the index of the
    source image of each of its images, and how it was formed."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32) / 255.0
    sources = torch.arange(len(pixels))
    if len(pixels) >= batch_size:
        sources = torch.randperm(len(pixels), generator=generator)[:batch_size].sort().values
        pixels, how = pixels[sources], f"seeded random subset of {batch_size} of {len(images)} images"
    elif augment:
        extra, picks = _augment(pixels, batch_size - len(pixels), generator)
        pixels, sources = torch.cat([pixels, extra]), torch.cat([sources, picks])
        how = (f"all {len(images)} images plus {len(extra)} distinct seeded random crops (pad {CROP_PADDING}) "
               "and flips")
    else:
        how = f"only {len(images)} images exist and augment is off: the batch is smaller than {batch_size}"
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALISATION[dataset])
    return ((pixels - mean) / std).contiguous(), sources, how


def batch_sha256(batch: torch.Tensor) -> str:
    """sha256 of the batch tensor's bytes (float32, C order)."""
    return hashlib.sha256(batch.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def load_batch(source: str | None, batch_size: int, seed: int,
               augment: bool = True) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """A (N, 3, 32, 32) float32 input batch, its (N,) int64 labels (None when the source has none: a
    synthetic batch, an ``.npz`` without ``labels``) and its description for a run manifest.

    ``source`` None gives a seeded standard-normal batch; a path gives real images (see
    the module docstring). With more real images than ``batch_size``, a seeded random
    subset is taken; with fewer, ``augment`` fills the batch with seeded random crops and
    flips, otherwise the batch holds just the real images (smaller than ``batch_size``).
    The description has: kind, path, normalised_as (the dataset whose channel statistics were used),
    n_images_source, batch_size (requested), n_images
    (returned), augment, seed, how (a sentence), sha256 (of the batch tensor's bytes), labelled (whether
    labels came with it) and n_classes_seen (distinct labels in the batch, None without labels).
    Raises BadInput for a bad batch size, path or file.
    """
    if batch_size < 1:
        raise BadInput(f"batch_size must be at least 1, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    if source is None:
        kind, n_source, dataset, labels = "synthetic", None, None, None
        batch = torch.randn((batch_size, *IMAGE_SHAPE), generator=generator)
        how = f"{batch_size} seeded standard-normal images"
    else:
        kind, dataset, images, source_labels = read_source(source)
        n_source = len(images)
        batch, sources, how = _real_batch(images, batch_size, augment, generator, dataset)
        labels = None if source_labels is None else torch.from_numpy(source_labels)[sources]
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
        "labelled": labels is not None,
        "n_classes_seen": None if labels is None else int(labels.unique().numel()),
    }
    return batch, labels, description
