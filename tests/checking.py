"""What the tests of the exercise checks (tests/test_checks_<assignment>.py) share."""

import pytest

from cnnlab.checks import CheckFailed, check


def fails(label: str, namespace, message: str) -> None:
    """``check(label, namespace)`` refuses the answer with a message matching ``message``."""
    with pytest.raises(CheckFailed, match=message):
        check(label, namespace)


@pytest.fixture(autouse=True)
def smoke(monkeypatch):
    """The checks' thresholds of the smoke profile, whatever CNNLAB_PROFILE the run has."""
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
