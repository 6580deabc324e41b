"""cnnlab: the helper package of the cnnlab workbook (data, models, training and plots for Keras).

Importing it quiets TensorFlow's C++ start-up logging; the submodules are imported on use:
``from cnnlab import config, data, models, training, plots``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .report import glue  # noqa: E402

__version__ = "0.1.0"
__all__ = ["glue"]
