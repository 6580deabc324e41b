"""Putting computed numbers into the book's prose.

:func:`glue` stores a value under a name so the Markdown can quote it with
``{glue:text}`name:.1%``` (myst-nb). In Colab, where myst-nb is usually not installed, it falls
back to plain display (or to nothing, for values that are only quoted), so notebooks run
unchanged there.
"""

from __future__ import annotations

from typing import Any

try:  # pragma: no cover - which branch runs depends on the environment
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover
    _myst_glue = None


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` for ``{glue:...}`name``` references; show it too when ``display``.

    NumPy scalars are converted to Python numbers so format specs such as ``:.2f`` work.
    """
    stored = value.item() if hasattr(value, "item") and getattr(value, "shape", None) == () else value
    if _myst_glue is not None:
        _myst_glue(name, stored, display=display)
    elif display:
        from IPython.display import display as show

        show(stored)


def mean_std(values, digits: int = 1, percent: bool = True) -> str:
    """``"92.3 ± 0.4"`` for a sequence of accuracies (in percent by default)."""
    import numpy as np

    values = np.asarray(values, dtype=float) * (100 if percent else 1)
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {spread:.{digits}f}"
