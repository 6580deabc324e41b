import pytest

from cnnlab import config


@pytest.mark.parametrize("value", ["smoke", "cpu", "full", " CPU "])
def test_valid_profiles_are_accepted(value, monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", value)
    assert config.profile_name() == value.strip().lower()


def test_bad_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "fast")
    with pytest.raises(ValueError) as error:
        config.profile_name()
    message = str(error.value)
    assert "'fast'" in message
    for name in ("smoke", "cpu", "full"):
        assert repr(name) in message


@pytest.mark.parametrize("gpu, expected", [(True, "full"), (False, "cpu")])
def test_unset_profile_follows_the_device(gpu, expected, monkeypatch):
    monkeypatch.delenv("CNNLAB_PROFILE", raising=False)
    monkeypatch.setattr(config, "gpu_available", lambda: gpu)
    assert config.profile_name() == expected


def test_settings_pick_the_profile_and_the_banner_says_what_changes():
    sizes = dict(runs=config.by_profile(full=10, cpu=3, smoke=2),
                 images=config.by_profile(full=60_000, cpu=12_000, smoke=1_000),
                 epochs=config.by_profile(full=5, cpu=5, smoke=1))
    cpu = config.setup(profile="cpu", show=False, **sizes)
    assert (cpu.runs, cpu.images, cpu.epochs) == (3, 12_000, 5)
    banner = cpu.banner()
    assert "  runs    3  * (as written: 10)" in banner
    assert "  images  12,000  * (as written: 60,000)" in banner
    assert "  epochs  5\n" in banner  # unchanged under cpu: no mark
    assert "CNNLAB_PROFILE=full" in banner

    full = config.setup(profile="full", show=False, **sizes)
    assert full.runs == 10 and full.changes() == []
    assert "*" not in full.banner() and "  runs    10" in full.banner()


def test_plain_values_are_fixed_settings():
    settings = config.setup(profile="cpu", show=False, learning_rate=0.1, optimizer="sgd",
                            runs=config.by_profile(full=10, cpu=3, smoke=2))
    assert settings.learning_rate == 0.1 and settings.optimizer == "sgd" and settings.runs == 3
    assert [name for name, _, _ in settings.changes()] == ["runs"]  # fixed settings never scale


def test_setup_seeds_numpy():
    import numpy as np

    config.setup(seed=5, profile="smoke", show=False)
    first = np.random.rand(3)
    config.setup(seed=5, profile="smoke", show=False)
    assert np.array_equal(first, np.random.rand(3))


def test_banner_without_sizes_says_nothing_is_scaled():
    banner = config.setup(profile="cpu", show=False).banner()
    assert "nothing in this notebook depends on the profile" in banner
    assert "as written" not in banner and "CNNLAB_PROFILE=full" not in banner
