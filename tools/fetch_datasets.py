"""Fill a folder for ``CNNLAB_DATA`` from the internet (for a machine that has it, e.g. the Pages
workflow's runner; the development machines use the offline copies in ../shared/datasets).

    python tools/fetch_datasets.py FOLDER

Writes ``mnist.npz``, ``fashion_mnist.npz`` and ``cifar10.npz`` (the arrays ``x_train``,
``y_train``, ``x_test``, ``y_test`` exactly as ``keras.datasets.<name>.load_data()`` returns them)
and the GroupLens ``ml-latest-small.zip``. Files already there are kept.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cnnlab.data import DATASETS, MOVIELENS_FILE, MOVIELENS_URL  # noqa: E402


def keras_loader(name: str):
    import keras

    return getattr(keras.datasets, name).load_data()


def download(url: str, target: Path) -> None:
    partial = target.with_suffix(target.suffix + ".part")
    urllib.request.urlretrieve(url, partial)
    partial.rename(target)


def fetch(folder: Path, load: Callable = keras_loader, get: Callable = download) -> list[Path]:
    """Write every missing dataset file into ``folder``; return the files written."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DATASETS:
        target = folder / f"{name}.npz"
        if target.exists():
            continue
        (x_train, y_train), (x_test, y_test) = load(name)
        partial = folder / f"{name}.part.npz"
        np.savez_compressed(partial, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        partial.rename(target)
        written.append(target)
    target = folder / MOVIELENS_FILE
    if not target.exists():
        get(MOVIELENS_URL, target)
        written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in fetch(Path(sys.argv[1])):
        print(f"wrote {path}")
