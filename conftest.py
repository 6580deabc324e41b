"""Test-wide settings: notebooks run under the smoke profile unless CNNLAB_PROFILE says otherwise.

Set here, at import time, so the notebook kernels that nbval starts inherit them. A relative
CNNLAB_DATA is made absolute because each kernel runs inside its notebook's folder.
"""

import os
from pathlib import Path

os.environ.setdefault("CNNLAB_PROFILE", "smoke")
if os.environ.get("CNNLAB_DATA"):
    os.environ["CNNLAB_DATA"] = str(Path(os.environ["CNNLAB_DATA"]).expanduser().resolve())
