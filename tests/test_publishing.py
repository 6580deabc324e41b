"""Publishing: the Pages workflow, CI, the lock, and the student edition's tag.

The workflow's behaviour is tested where it can run here (the scripts its steps call: check-tag,
the edition's publishing against a local bare repository, the dataset fetcher with fake sources)
and read where it cannot (the order of its steps, pinned actions, what it installs).
"""

import fnmatch
import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import cnnlab_profile  # noqa: E402
import fetch_datasets  # noqa: E402
import publish_edition  # noqa: E402
import workbook  # noqa: E402

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
LOCK = ROOT / "requirements.lock"


def readme_command(prefix: str) -> str:
    """The first command in the README's code blocks that starts with ``prefix``."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    for block in blocks:
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if command.startswith(prefix):
                return command
    raise AssertionError(f"the README has no command starting with {prefix!r}")


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def build_steps():
    return workflow()["jobs"]["build"]["steps"]


def step_index(predicate, what: str) -> int:
    for i, step in enumerate(build_steps()):
        if predicate(step):
            return i
    raise AssertionError(f"the build job has no step that {what}")


def runs(command: str):
    return lambda step: any(line.strip() == command for line in step.get("run", "").splitlines())


def uses(action: str):
    return lambda step: step.get("uses", "").startswith(action + "@")


def locked() -> dict[str, str]:
    """Package name -> version pinned in requirements.lock."""
    return {canonicalize_name(name): pinned
            for name, pinned in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", LOCK.read_text(), re.M)}


# --- the workflow ------------------------------------------------------------------------------


def test_workflow_publishes_releases_only_and_refuses_a_tag_that_is_not_the_version():
    config = workflow()
    triggers = config.get("on") or config.get(True)  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"] == {"tags": ["v*", "!v*-student"]}, "publish from release tags, not from a branch"
    assert fnmatch.fnmatch(workbook.release_tag(), "v*") and fnmatch.fnmatch(workbook.student_tag(), "v*-student")
    check = step_index(runs('python tools/workbook.py check-tag "$GITHUB_REF_NAME"'), "checks the tag")
    tests = step_index(runs(readme_command("pytest")), "runs the README's test command")
    assert check < tests
    assert config["jobs"]["build"]["env"]["CNNLAB_BOOK_REF"] == "${{ github.ref_name }}"


def test_check_tag_accepts_the_release_tag_only(capsys):
    assert workbook.main(["workbook.py", "check-tag", workbook.release_tag()]) == 0
    assert workbook.main(["workbook.py", "check-tag", "v0.0.0-not-this"]) == 1
    assert "does not match the version in pyproject.toml" in capsys.readouterr().out


def test_workflow_tests_then_builds_strictly_under_cpu_then_publishes_then_deploys():
    steps = build_steps()
    install = step_index(lambda s: "-r requirements.lock" in s.get("run", ""), "installs the lock")
    tests = step_index(runs(readme_command("pytest")), "runs the README's test command")
    build = step_index(runs(readme_command("jupyter-book build book -W")), "runs the README's strict build")
    edition = step_index(runs("python tools/publish_edition.py --remote origin"), "publishes the student edition")
    upload = step_index(uses("actions/upload-pages-artifact"), "uploads the site")
    assert install < tests < build < edition < upload
    assert steps[tests]["env"]["CNNLAB_PROFILE"] == "smoke"
    assert steps[build]["env"]["CNNLAB_PROFILE"] == "cpu"
    assert "rm -rf book/_build/html book/_build/.doctrees" in steps[build]["run"], (
        "the cpu build must not reuse the pages the smoke build of the tests wrote")
    assert steps[upload]["with"]["path"] == "book/_build/html"
    deploy = workflow()["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow()["jobs"]["build"]["permissions"] == {"contents": "write"}


def test_every_action_is_pinned_to_a_commit_with_its_version():
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) >= 5
    for line in lines:
        assert re.search(r"uses: [\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"not pinned: {line.strip()}"


def test_the_workflow_caches_the_folder_the_cache_extension_uses(tmp_path):
    cached = [s["with"]["path"] for s in build_steps() if uses("actions/cache")(s)]
    folder = cnnlab_profile.cache_folder(str(ROOT / "book" / "_build" / "html"), "cpu",
                                         cnnlab_profile.DEFAULT_INPUTS)
    relative = folder.relative_to(ROOT).as_posix()
    assert any(fnmatch.fnmatch(relative, path) for path in cached), (relative, cached)


def test_the_workflow_fills_cnnlab_data_for_the_tests():
    env = workflow()["jobs"]["build"]["env"]
    fetch = step_index(runs('python tools/fetch_datasets.py "$CNNLAB_DATA"'), "fetches the datasets")
    assert env["CNNLAB_DATA"] and fetch < step_index(runs(readme_command("pytest")), "tests")


def test_fetch_datasets_writes_what_cnnlab_data_reads(tmp_path, monkeypatch):
    def fake_load(name):
        x = np.full((4, 2, 2), 7, dtype="uint8")
        return (x, np.arange(4, dtype="uint8")), (x[:2], np.arange(2, dtype="uint8"))

    fetched = []
    written = fetch_datasets.fetch(tmp_path, fake_load, lambda url, target: (fetched.append(url), target.write_bytes(b"zip")))
    assert sorted(p.name for p in written) == ["cifar10.npz", "fashion_mnist.npz", "ml-latest-small.zip", "mnist.npz"]
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    from cnnlab import data

    (x_train, y_train), (x_test, y_test) = data.load("fashion_mnist")
    assert x_train.shape == (4, 2, 2) and list(y_test) == [0, 1]
    assert fetch_datasets.fetch(tmp_path, fake_load, None) == []  # nothing fetched twice


# --- the lock ----------------------------------------------------------------------------------


def test_ci_and_the_workflow_install_the_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    install = next(s["run"] for s in build_steps() if "pip install" in s.get("run", ""))
    for text in (ci, install):
        assert re.search(r"pip install .*--require-hashes -r requirements\.lock", text)
        assert re.search(r"pip install .*--no-deps .*-e \.", text)
        assert "-r requirements.txt" not in text


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_command("pytest") in ci.splitlines()
    assert readme_command("jupyter-book build book -W") in ci.splitlines()


def test_the_lock_satisfies_the_loose_specification_and_cnnlab():
    pins = locked()
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for text in [r for r in requirements if r and not r.startswith("-e")] + declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: refresh it"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: refresh it")
    assert "cnnlab" not in pins, "cnnlab itself is installed from the checkout, not the lock"


def test_the_lock_is_refreshed_by_the_readme_command():
    command = readme_command("uv pip compile")
    assert command in LOCK.read_text().splitlines()[1].strip("# "), "regenerate the lock with the README's command"
    assert "--generate-hashes" in command and "-o requirements.lock" in command


@pytest.mark.skipif(os.environ.get("CNNLAB_LOCKED") != "1", reason="only where the lock was installed (.ci/run)")
def test_what_is_installed_is_the_lock():
    wrong = []
    for name, pinned in locked().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        if have != pinned:
            wrong.append(f"{name} {have} (lock: {pinned})")
    assert not wrong, "installed versions differ from requirements.lock: " + ", ".join(wrong)


# --- the student edition's tag -----------------------------------------------------------------


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A clone of a local bare repository with one commit, the way the workflow's checkout is."""
    for var, value in [("GIT_AUTHOR_NAME", "ci"), ("GIT_AUTHOR_EMAIL", "ci@example.org"),
                       ("GIT_COMMITTER_NAME", "ci"), ("GIT_COMMITTER_EMAIL", "ci@example.org")]:
        monkeypatch.setenv(var, value)
    git(tmp_path, "init", "--quiet", "--bare", "origin.git")
    git(tmp_path, "clone", "--quiet", "origin.git", "work")
    work = tmp_path / "work"
    (work / "file.txt").write_text("release\n")
    git(work, "add", "file.txt")
    git(work, "commit", "--quiet", "-m", "release")
    git(work, "push", "--quiet", "origin", "HEAD")
    return work


def test_the_edition_is_published_to_its_tag_once(clone):
    tag = workbook.student_tag()
    message = publish_edition.publish(clone, "origin")
    assert message.startswith(f"pushed {tag}")
    bare = clone.parent / "origin.git"
    files = git(bare, "ls-tree", "-r", "--name-only", tag).splitlines()
    assert sorted(files) == sorted(["README.md"] + [f"{workbook.name_of(p)}.ipynb" for p in workbook.notebooks()])
    assert git(bare, "rev-parse", f"{tag}^") == git(clone, "rev-parse", "HEAD"), "its parent is the release"
    shown = git(bare, "show", f"{tag}:a2-mnist-convnet/replicate.ipynb")
    assert '"edition": "student"' in shown and "solution-start" not in shown
    assert git(clone, "status", "--porcelain") == "", "the working tree is untouched"
    assert publish_edition.publish(clone, "origin").endswith("nothing to do")


def test_a_different_edition_under_the_same_tag_is_refused_unless_forced(clone, monkeypatch):
    publish_edition.publish(clone, "origin")
    real = workbook.write_student_edition

    def changed(out, book=None):
        written = real(out, book)
        written[0].write_text(written[0].read_text().replace("Student edition", "Changed edition"))
        return written

    monkeypatch.setattr(workbook, "write_student_edition", changed)
    with pytest.raises(publish_edition.PublishError, match="different edition.*bump the version"):
        publish_edition.publish(clone, "origin")
    assert publish_edition.publish(clone, "origin", force=True).startswith("pushed")


def test_student_links_point_at_the_published_tag():
    url, _ = workbook.repository()
    owner_repo = url.removeprefix("https://github.com/")
    assert workbook.student_colab_url("a1-keras-basics/mnist-mlp") == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/v{workbook.version()}-student/"
        "a1-keras-basics/mnist-mlp.ipynb")


def test_the_launch_buttons_follow_the_release_ref(monkeypatch):
    """The workflow passes the tag in CNNLAB_BOOK_REF; the extension makes it the theme's
    repository_branch (what the Colab and Binder buttons open), without editing _config.yml."""
    import types

    import cnnlab_release

    config = types.SimpleNamespace(html_theme_options={"repository_branch": "main", "path_to_docs": "book"})
    monkeypatch.delenv("CNNLAB_BOOK_REF", raising=False)
    cnnlab_release._release_ref(None, config)
    assert config.html_theme_options["repository_branch"] == "main"
    monkeypatch.setenv("CNNLAB_BOOK_REF", "v9.9.9")
    cnnlab_release._release_ref(None, config)
    assert config.html_theme_options == {"repository_branch": "v9.9.9", "path_to_docs": "book"}
