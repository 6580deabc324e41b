"""cnnlab: the helper package of the cnnlab workbook (data, models, training and plots for Keras).

Modules, each with one job, from the bottom layer up (a module imports only from layers below):

``config``         run profiles (smoke, cpu, full), seeding, the device report
``report``         ``glue``: numbers computed by a notebook, quoted in its prose
``data``           datasets (local folder or download), subsets, splits, pixel permutations,
                   the MovieLens ratings matrix
``models``         builders for the architectures the notebooks reuse
``reference``      a NumPy convolution written out by hand (assignment 3)
``mixture``        mixture responsibilities computed directly (to show where they break)
``factorization``  matrix factorization on observed entries: splits, errors, records of fits
``tidy``           tidy result tables (run, epoch, split, metric, value) from Keras histories
``diagnostics``    accuracy per class, dead ReLU units
``plots``          image grids, learning curves, confusion matrices, per-class bars, panels
``recorders``      evaluation every epoch or every few batches, a training log every N steps
``stacked``        many runs of one network trained together in one compiled graph
``multirun``       repeated independent runs: stacked when supported, else ``fit`` run by run
``handloop``       the hand-written training loop of assignment 3

Layers: ``config``, ``report``, ``data``, ``models``, ``reference``, ``mixture``,
``factorization``, ``tidy``, ``diagnostics`` and ``plots`` import no cnnlab module except
``config``/``report``/``data`` (``factorization`` also ``noise``); ``recorders`` and ``stacked`` build on ``tidy``; ``multirun`` on
``recorders`` and ``stacked``; ``handloop`` on ``multirun``. Nothing imports upwards, so there is no
cycle (``tests/test_layers.py`` checks it).

Importing the package quiets TensorFlow's C++ start-up logging; the submodules are imported on
use: ``from cnnlab import config, data, models, multirun, plots``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .report import glue  # noqa: E402

try:  # the version is kept in pyproject.toml only
    from importlib.metadata import version as _version

    __version__ = _version("cnnlab")
except Exception:  # noqa: BLE001 - not installed (e.g. run from a source tree)
    __version__ = "unknown"
__all__ = ["glue"]
