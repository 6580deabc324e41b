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
