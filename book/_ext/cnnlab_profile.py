"""Sphinx extension: one jupyter-cache per run profile.

jupyter-cache decides whether a notebook must run again from its code alone. The profile
(``CNNLAB_PROFILE``) is an environment variable, so without this a ``smoke`` build would happily
reuse outputs computed under ``cpu`` (or the other way round). Each profile gets its own cache
folder, ``_build/.jupyter_cache-<profile>``, and switching profiles never mixes results.
"""

from pathlib import Path


def _cache_per_profile(app, config):
    from cnnlab.config import profile_name

    profile = profile_name()
    config.nb_execution_cache_path = str(Path(app.outdir).parent / f".jupyter_cache-{profile}")


def setup(app):
    app.connect("config-inited", _cache_per_profile)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
