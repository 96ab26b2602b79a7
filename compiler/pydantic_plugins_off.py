"""Stands in for `pydantic.plugin._loader` in the console script while pydantic's plugins
are turned off (`entry.apply_process_settings`), so that importlib.metadata is not
imported for nothing.

pydantic imports its loader when it builds a model's validator and asks it for the
installed plugins; with `PYDANTIC_DISABLE_PLUGINS` set to one of `entry.PLUGINS_OFF` the
loader answers "none" without reading any package metadata, and so does this module.
Anything else asked of it (another setting by then, a name a later pydantic imports
from its loader) goes to the real loader, imported at that moment.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

LOADER = "pydantic.plugin._loader"


def get_plugins() -> Any:
    from compiler.entry import PLUGINS_OFF

    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF:
        return ()
    return _real_loader().get_plugins()


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # import machinery and introspection: ours, not the loader's
        raise AttributeError(name)
    return getattr(_real_loader(), name)


def _real_loader() -> Any:
    if sys.modules.get(LOADER) is sys.modules[__name__]:
        del sys.modules[LOADER]
    return importlib.import_module(LOADER)
