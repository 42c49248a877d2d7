# Generated from src/pt2jax/kit/cifar.py by `pt2jax build`: do not edit.
"""CIFAR-10 for the course: the real files when they are there, a small stand-in otherwise.

torchvision's ``CIFAR10(root, download=False)`` reads ``root/cifar-10-batches-py/`` (five training
pickles, one test pickle, one metadata pickle) and refuses any file whose md5 is not the real
dataset's. Nothing can be downloaded on the course machines, so this module can also write a
**stand-in in exactly that layout**: scikit-learn's 1,797 handwritten digits (real 8x8 scans shipped
inside its wheel), upsampled to 32x32, coloured, and split into training and test files. The only
thing :class:`StandInCIFAR10` changes is the list of checksums, so the stand-in goes through the very
loader code that reads CIFAR-10.

Shipped beside the released notebooks as ``pt2jax_cifar.py``: imports only the standard library,
numpy, torchvision and (to write the stand-in) scikit-learn; never JAX, so DataLoader worker
processes can import it.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity

__all__ = ["StandInCIFAR10", "cifar_dataset_class", "default_standin_root", "has_real_cifar", "numpy_collate",
           "write_standin"]

FOLDER = CIFAR10.base_folder  # "cifar-10-batches-py"
STANDIN_LABELS = [f"digit {d}" for d in range(10)]
TEST_EVERY = 5  # every 5th digit goes to the test file: 360 test images, 1,437 training images
_PROTOCOL = 2  # what the real files use


def has_real_cifar(root: str | Path) -> bool:
    """Whether ``root/cifar-10-batches-py`` holds the real CIFAR-10 files (md5-checked, as torchvision does)."""
    folder = Path(root) / FOLDER
    files = [*CIFAR10.train_list, *CIFAR10.test_list, [CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]
    return all(check_integrity(str(folder / name), md5) for name, md5 in files)


def _standin_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The stand-in's images, (1797, 32, 32, 3) uint8, and labels: deterministic."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    ink = digits.images.astype(np.float64) / 16.0  # (N, 8, 8) in [0, 1]
    big = np.kron(ink, np.ones((4, 4)))  # nearest-neighbour upsampling to 32x32
    # smooth the 4x4 blocks a little (a 3x3 box filter) so the digits do not look like pixel art
    padded = np.pad(big, ((0, 0), (1, 1), (1, 1)), mode="edge")
    big = np.asarray(sum(padded[:, i:i + 32, j:j + 32] for i in range(3) for j in range(3))) / 9.0
    rng = np.random.default_rng(20261202)
    n = len(big)
    background = rng.uniform(0, 90, size=(n, 1, 1, 3))
    foreground = rng.uniform(150, 255, size=(n, 1, 1, 3))
    noise = rng.normal(0, 6, size=(n, 32, 32, 3))
    images = background + (foreground - background) * big[..., None] + noise
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), digits.target.astype(np.int64)


def _batch(name: str, images: np.ndarray, labels: np.ndarray, offset: int) -> dict[str, Any]:
    """One CIFAR-10 batch dict: 'data' (N, 3072) uint8 in channel planes (R, G, B), 'labels' a list."""
    return {
        "batch_label": name,
        "labels": [int(y) for y in labels],
        "data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1)),
        "filenames": [f"digit_{offset + i:05d}.png" for i in range(len(images))],
    }


def _standin_files() -> dict[str, bytes]:
    images, labels = _standin_arrays()
    index = np.arange(len(images))
    test = index % TEST_EVERY == 0
    train_idx, test_idx = index[~test], index[test]
    files = {}
    for k, part in enumerate(np.array_split(train_idx, 5), start=1):
        name = f"data_batch_{k}"
        files[name] = pickle.dumps(_batch(f"training batch {k} of 5", images[part], labels[part], int(part[0])),
                                   protocol=_PROTOCOL)
    files["test_batch"] = pickle.dumps(_batch("testing batch 1 of 1", images[test_idx], labels[test_idx], 0),
                                       protocol=_PROTOCOL)
    meta = {"num_cases_per_batch": len(train_idx) // 5, "label_names": STANDIN_LABELS, "num_vis": 3072}
    files["batches.meta"] = pickle.dumps(meta, protocol=_PROTOCOL)
    return files


class StandInCIFAR10(CIFAR10):
    """torchvision's CIFAR10 reading the stand-in: the same code, only the stand-in's checksums."""

    url = ""  # nothing to download: write_standin(root) creates the files
    train_list = [  # noqa: RUF012 (torchvision's class attributes, overridden as torchvision defines them)
        ["data_batch_1", "aa1033e30834681b476887a96e761555"],
        ["data_batch_2", "0390521967fece0a3967630fb76d00fe"],
        ["data_batch_3", "2c2ffc8be0f29481d855a3489a7035b9"],
        ["data_batch_4", "dc2980119994f6c783ac0a7290653a97"],
        ["data_batch_5", "831f2d1e52ff63b37312fa283371fba6"],
    ]
    test_list = [  # noqa: RUF012
        ["test_batch", "024b0716b3ddf211d58dc76acbf44e21"],
    ]
    meta = {  # noqa: RUF012
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "b75bea25d0aee535bebde29d6bbee907",
    }


def _expected_md5() -> dict[str, str]:
    listed = [*StandInCIFAR10.train_list, *StandInCIFAR10.test_list,
              [StandInCIFAR10.meta["filename"], StandInCIFAR10.meta["md5"]]]
    return {name: md5 for name, md5 in listed}


def write_standin(root: str | Path) -> Path:
    """Write the stand-in (about 7 MB) to ``root/cifar-10-batches-py`` unless it is already there; return ``root``."""
    root = Path(root)
    folder = root / FOLDER
    want = _expected_md5()
    if all(check_integrity(str(folder / name), md5) for name, md5 in want.items()):
        return root
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in _standin_files().items():
        got = hashlib.md5(data).hexdigest()
        if got != want[name]:
            raise RuntimeError(f"the stand-in's {name} has md5 {got}, not {want[name]}: a different numpy,"
                               " scikit-learn or pickle than the course's pinned ones?")
        (folder / name).write_bytes(data)
    return root


def default_standin_root() -> Path:
    """Where the stand-in is written unless told otherwise: ``~/.cache/pt2jax/cifar-standin`` (never the
    notebook's folder, whose files nbgrader would copy into a release)."""
    return Path.home() / ".cache" / "pt2jax" / "cifar-standin"


def cifar_dataset_class(root: str | Path = "data",
                        standin_root: str | Path | None = None) -> tuple[type[CIFAR10], Path]:
    """(dataset class, root to pass it): torchvision's CIFAR10 and ``root`` when ``root/cifar-10-batches-py``
    holds the real files, else StandInCIFAR10 and ``standin_root`` (written there on first use)."""
    root = Path(root)
    if has_real_cifar(root):
        return CIFAR10, root
    return StandInCIFAR10, write_standin(default_standin_root() if standin_root is None else standin_root)


def numpy_collate(samples: list[tuple[Any, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """A batch of (CHW float image, label) samples -> (NHWC float32 images, int32 labels), NumPy arrays.

    The course's copy of the collate function Exercise 1 asks for, in a module: worker processes started
    with "spawn" import the functions they run, and a function defined in a notebook cannot be imported."""
    images = np.stack([np.asarray(image, dtype=np.float32) for image, _ in samples])
    labels = np.asarray([int(label) for _, label in samples], dtype=np.int32)
    return images.transpose(0, 2, 3, 1), labels
