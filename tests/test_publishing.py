"""The publishing workflow builds the book the way the README says, under the cpu profile."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
    return yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())


def test_workflow_builds_with_the_readme_command_under_cpu():
    jobs = workflow()["jobs"]
    build = jobs["build"]
    commands = [step["run"].strip() for step in build["steps"] if "run" in step]
    assert readme_command("jupyter-book build") in commands
    assert readme_command("pip install") in commands
    assert build["env"]["CNNLAB_PROFILE"] == "cpu"


def test_workflow_runs_on_main_caches_and_deploys_to_pages():
    config = workflow()
    triggers = config.get("on") or config.get(True)  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
    steps = config["jobs"]["build"]["steps"]
    cached = [step["with"]["path"] for step in steps if step.get("uses", "").startswith("actions/cache")]
    assert "~/.keras/datasets" in cached
    assert any(".jupyter_cache-cpu" in path for path in cached)
    assert any(step.get("uses", "").startswith("actions/upload-pages-artifact") and
               step["with"]["path"] == "book/_build/html" for step in steps)
    deploy = config["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in deploy["steps"])
    assert config["permissions"]["pages"] == "write"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_command("pytest") in ci.splitlines()
