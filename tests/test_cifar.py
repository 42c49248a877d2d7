"""The CIFAR-10 stand-in (src/pt2jax/kit/cifar.py): torchvision's own loader reads it, it is
deterministic and learnable-looking data, and its train and test files differ."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import CIFAR10

from pt2jax.kit import cifar


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cifar.write_standin(tmp_path_factory.mktemp("cifar"))


def test_files_have_the_listed_checksums_and_cifar_layout(standin: Path) -> None:
    folder = standin / "cifar-10-batches-py"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch", "batches.meta"])
    for name, md5 in cifar._expected_md5().items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == md5
    with open(folder / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    assert set(entry) == {"batch_label", "labels", "data", "filenames"}
    assert entry["data"].dtype == np.uint8 and entry["data"].shape[1] == 3072
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10_000_000


def test_torchvision_reads_the_standin_through_the_thin_subclass(standin: Path) -> None:
    train = cifar.StandInCIFAR10(standin, train=True)
    test = cifar.StandInCIFAR10(standin, train=False)
    assert (len(train), len(test)) == (1437, 360)
    assert train.classes == cifar.STANDIN_LABELS
    assert train.data.shape == (1437, 32, 32, 3) and train.data.dtype == np.uint8
    assert sorted(set(train.targets)) == list(range(10)) == sorted(set(test.targets))
    # train and test hold different images
    train_rows = {img.tobytes() for img in train.data}
    assert not any(img.tobytes() in train_rows for img in test.data)
    # only the checksums differ from torchvision's class
    overridden = {k for k in vars(cifar.StandInCIFAR10) if not k.startswith("__")}
    assert overridden == {"url", "train_list", "test_list", "meta"}
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        CIFAR10(standin, train=True)  # the real checksums refuse the stand-in


def test_writing_is_deterministic_and_idempotent(standin: Path, tmp_path: Path) -> None:
    again = cifar.write_standin(tmp_path)
    for name in cifar._expected_md5():
        assert (again / cifar.FOLDER / name).read_bytes() == (standin / cifar.FOLDER / name).read_bytes()
    before = (again / cifar.FOLDER / "test_batch").stat().st_mtime_ns
    cifar.write_standin(tmp_path)
    assert (again / cifar.FOLDER / "test_batch").stat().st_mtime_ns == before


def test_dataset_class_falls_back_to_the_standin(tmp_path: Path) -> None:
    assert not cifar.has_real_cifar(tmp_path)
    cls, root = cifar.cifar_dataset_class(tmp_path, tmp_path / "standin")
    assert cls is cifar.StandInCIFAR10 and root == tmp_path / "standin"
    assert len(cls(root, train=False)) == 360


def test_numpy_collate_gives_nhwc_float32_and_int32() -> None:
    samples = [(np.full((3, 4, 5), i, np.float32), i) for i in range(3)]
    images, labels = cifar.numpy_collate(samples)
    assert type(images) is np.ndarray and images.shape == (3, 4, 5, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.tolist() == [0, 1, 2]


def test_module_imports_no_jax_or_pt2jax() -> None:
    source = Path(cifar.__file__).read_text()
    assert "import jax" not in source and "from jax" not in source and "pt2jax." not in source.replace(
        "pt2jax_cifar", "")
