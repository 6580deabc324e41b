"""cnnlab: the helper package of the cnnlab workbook (data, models, training and plots for Keras).

Modules, each with one job:

``config``         run profiles (smoke, cpu, full), seeding, the device report
``data``           datasets (local folder or download), subsets, splits, pixel permutations,
                   the MovieLens ratings matrix
``models``         builders for every architecture of the assignments
``training``       repeated independent runs as tidy DataFrames, callbacks, the hand-written loop
``stacked``        many runs of one small network trained together in one compiled graph
``plots``          image grids, learning curves, confusion matrices, per-class bars, panels
``report``         ``glue``: numbers computed by a notebook, quoted in its prose
``reference``      NumPy convolution and dense layer, written out by hand
``mixture``        mixture responsibilities in log space
``factorization``  alternating least squares on observed entries

Importing the package quiets TensorFlow's C++ start-up logging; the submodules are imported on
use: ``from cnnlab import config, data, models, training, plots``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .report import glue  # noqa: E402

__version__ = "0.1.0"
__all__ = ["glue"]
