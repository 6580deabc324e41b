import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_folder() -> Path:
    """The offline dataset folder named by CNNLAB_DATA (these tests read the real files)."""
    value = os.environ.get("CNNLAB_DATA")
    if not value:
        pytest.fail("set CNNLAB_DATA to the folder with the offline datasets (see the README)")
    return Path(value)


@pytest.fixture(autouse=True)
def _close_figures():
    """Plot tests draw off-screen and close what they opened."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def three_class_problem(size: int = 300):
    """A small separable 3-class problem: the class is the third of the 12-vector that is
    brightest. Easy enough that a tiny MLP learns it in a few epochs."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=size)
    x = rng.normal(0, 0.3, size=(size, 12)).astype("float32")
    for c in range(3):
        x[y == c, 4 * c:4 * c + 4] += 1.0
    return x, y


@pytest.fixture(scope="module")
def tiny():
    """:func:`three_class_problem` with 300 examples."""
    return three_class_problem(300)
