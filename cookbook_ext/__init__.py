"""Cookbook: turn a model's repository and a request into a validated notebook, in JupyterLab."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0.dev0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "cookbook-ext"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import CookbookApp

    return [{"module": "cookbook_ext", "app": CookbookApp}]
