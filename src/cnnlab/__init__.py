"""cnnlab: the helper package of the cnnlab workbook (data, models, training and plots for Keras).

Modules, each with one job, from the bottom layer up (a module imports only from layers below):

Foundations (no cnnlab import, except ``config`` reading ``report``)
``report``          ``glue``: numbers computed by a notebook, quoted in its prose
``config``          run profiles (smoke, cpu, full), the settings banner, seeding, device report
``data``            datasets (local folder or download), subsets, splits, pixel permutations,
                    the MovieLens ratings matrix
``models``          builders for the architectures several notebooks, checks or tests reuse
``reference``       a NumPy convolution written out by hand (assignment 3)
``mixture``         mixture responsibilities computed directly (to show where they break)
``tidy``            tidy result tables (run, epoch, split, metric, value) and their summaries
``diagnostics``     accuracy per class, dead ReLU units, layer outputs
``plots``           image grids, learning curves, confusion matrices, per-class bars, panels
``past``            the past solutions' reference figures and the profile's departures (past.yml)
``progress``        a live progress line for long runs

Results and verdicts
``noise``           whether a difference is beyond noise, and the words the prose glues
``verdicts``        assignment 4's verdicts built on ``noise``
``factorization``   matrix factorization on observed entries: splits, errors, records of fits

Training
``recorders``       Keras callbacks: evaluation every epoch or every few batches, a training log
``stacked_rules``   what the stacked engine supports, and why not what it refuses
``stacked_layers``  the stacked forward pass (R runs side by side in one network)
``stacked_train``   the stacked training loop (one compiled call per epoch)
``stacked``         the engine's entry point: train R runs of one network together
``multirun``        repeated independent runs: stacked when it pays, else ``fit`` run by run
``handloop``        the hand-written training loop of assignment 3

``checks``          the exercises' checks (a sub-package: ``core``, ``expect``, one module per
                    assignment); it reads from every layer and nothing imports it

Nothing imports upwards, so there is no cycle, and no module is over 350 lines
(``tests/test_layers.py`` checks both).

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
