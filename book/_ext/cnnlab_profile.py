"""Sphinx extension: one jupyter-cache per run profile and per version of the code notebooks call.

jupyter-cache decides whether a notebook must run again from the notebook's code alone. Two
things it cannot see change the outputs too:

* the profile (``CNNLAB_PROFILE``), an environment variable: without this a ``smoke`` build would
  happily reuse outputs computed under ``cpu`` (or the other way round);
* the ``cnnlab`` package the notebooks import, and the locked library versions: after a change to
  a cnnlab function the cache would show stale outputs.

So the cache folder is ``_build/.jupyter_cache-<profile>-<hash>``, where ``<hash>`` is a digest of
every file under ``src/cnnlab`` and of ``requirements.lock`` (the config value
``cnnlab_cache_inputs`` lists what is hashed). A changed cnnlab gets a fresh cache, so every
notebook runs again; going back to an earlier state finds its cache again. Old caches stay until
``jupyter-book clean book --all``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INPUTS = [str(ROOT / "src" / "cnnlab"), str(ROOT / "requirements.lock")]


def digest(inputs: list[str], length: int = 12) -> str:
    """A digest of the files at ``inputs`` (files, or folders taken whole; missing ones count as
    missing), their paths relative to the input included. Caches and compiled files are skipped."""
    hasher = hashlib.sha256()
    for entry in inputs:
        base = Path(entry)
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        hasher.update(f"input {base.name}\n".encode())
        for path in files:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            name = path.relative_to(base).as_posix() if base.is_dir() else path.name
            hasher.update(f"file {name}\n".encode())
            hasher.update(path.read_bytes() if path.exists() else b"<missing>")
    return hasher.hexdigest()[:length]


def cache_folder(outdir: str, profile: str, inputs: list[str]) -> Path:
    return Path(outdir).parent / f".jupyter_cache-{profile}-{digest(inputs)}"


def _cache_per_profile(app, config):
    from cnnlab.config import profile_name

    config.nb_execution_cache_path = str(cache_folder(app.outdir, profile_name(), config.cnnlab_cache_inputs))


def setup(app):
    app.add_config_value("cnnlab_cache_inputs", DEFAULT_INPUTS, "env")
    app.connect("config-inited", _cache_per_profile)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
