"""Run profiles, seeding and the device report.

A notebook runs in one of three profiles, chosen by the ``CNNLAB_PROFILE`` environment variable:

``full``
    every setting exactly as the assignment states (Colab with a GPU);
``cpu``
    data subsets and fewer runs/epochs, so a notebook finishes in minutes on a laptop CPU;
``smoke``
    tiny sizes for the tests: only proves that every cell runs.

Unset means ``full`` when TensorFlow sees a GPU and ``cpu`` otherwise. The code path is the same in
all three; only sizes change. A notebook declares its sizes once with :func:`setup`, which seeds
every random generator and prints what the active profile scales.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

PROFILES = ("smoke", "cpu", "full")
ENV_PROFILE = "CNNLAB_PROFILE"


def gpu_available() -> bool:
    """True when TensorFlow can see at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def profile_name(value: str | None = None) -> str:
    """The active profile: ``value`` if given, else ``$CNNLAB_PROFILE``, else by device.

    Raises ``ValueError`` naming the three valid profiles for anything else.
    """
    if value is None:
        value = os.environ.get(ENV_PROFILE, "").strip()
        if not value:
            return "full" if gpu_available() else "cpu"
    name = value.strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {value!r} (from {ENV_PROFILE} or the argument): "
            f"valid profiles are {', '.join(repr(p) for p in PROFILES)}"
        )
    return name


@dataclass(frozen=True)
class Size:
    """One quantity that depends on the profile (``full`` is the assignment as written)."""

    full: Any
    cpu: Any
    smoke: Any

    def pick(self, profile: str) -> Any:
        return getattr(self, profile_name(profile))


def by_profile(*, full: Any, cpu: Any, smoke: Any) -> Size:
    """Declare a size per profile, e.g. ``runs=by_profile(full=10, cpu=3, smoke=2)``."""
    return Size(full=full, cpu=cpu, smoke=smoke)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return str(value)


class Settings:
    """The sizes chosen for the active profile, readable as attributes (``S.runs``)."""

    def __init__(self, profile: str, sizes: dict[str, Size], seed: int):
        self.profile = profile
        self.seed = seed
        self._sizes = sizes
        for key, size in sizes.items():
            setattr(self, key, size.pick(profile))

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(name, value here, value as written) for every size this profile scales."""
        rows = []
        for key, size in self._sizes.items():
            here, written = size.pick(self.profile), size.full
            if here != written:
                rows.append((key.replace("_", " "), here, written))
        return rows

    def banner(self) -> str:
        """What the notebook runs with: the profile, then every setting as ``S.<name>`` with its
        value here, marking (and giving the written value of) those the profile scales."""
        changed = {name for name, _, _ in self.changes()}
        if self.profile == "full":
            head = "Profile: full - the assignment as written"
        elif self.profile == "cpu":
            head = "Profile: cpu - scaled down to finish in minutes on a CPU"
        else:
            head = "Profile: smoke - tiny sizes that only check every cell runs"
        if not self._sizes:
            return "\n".join([f"Profile: {self.profile} - nothing in this notebook depends on the profile",
                              device_report()])
        lines = [head, "Settings (S.<name>):" if not changed else
                 "Settings (S.<name>); * = scaled by this profile, with the value as written:"]
        width = max(len(key) for key in self._sizes)
        for key, size in self._sizes.items():
            here = _describe(size.pick(self.profile))
            line = f"  {key:<{width}}  {here}"
            if key.replace("_", " ") in changed:
                line += f"  * (as written: {_describe(size.full)})"
            lines.append(line)
        if changed:
            lines.append(f"Set {ENV_PROFILE}=full to run the assignment as written.")
        lines.append(device_report())
        return "\n".join(lines)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._sizes)
        return f"Settings(profile={self.profile!r}, seed={self.seed}, {values})"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow in one call (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(seed)


def device_report() -> str:
    """One line: which device TensorFlow will use, and the library versions."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({', '.join(g.name for g in gpus)})" if gpus else f"CPU ({os.cpu_count()} cores)"
    return f"Device: {device}; TensorFlow {tf.__version__}, Keras {keras.__version__}"


def setup(*, seed: int = 0, profile: str | None = None, show: bool = True, **sizes: Size) -> Settings:
    """Pick the profile, seed everything, print what the profile scales and glue the profile's
    name as ``profile`` (for the book's results page).

    Every keyword besides ``seed``/``profile``/``show`` is a setting of the notebook: a
    :class:`Size` made with :func:`by_profile` when it depends on the profile, or a plain value
    (a learning rate, an optimizer's name) that is the same under every profile. Declaring the
    fixed settings here too makes the cell the notebook's one table of settings, which
    ``tests/test_full_profile.py`` compares with the assignment. The returned :class:`Settings`
    has one attribute per keyword holding the value for the active profile.
    """
    sizes = {key: size if isinstance(size, Size) else Size(size, size, size) for key, size in sizes.items()}
    settings = Settings(profile_name(profile), sizes, seed)
    seed_everything(seed)
    if show:
        print(settings.banner())
        from .report import glue

        glue("profile", settings.profile)  # the book's results page says what each number ran under
    return settings
