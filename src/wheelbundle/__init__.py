"""wheelbundle: requirements in, one archive out, installed offline on the server.

The names in ``__all__`` are the library a script may use; everything else is internal and may
move. They are loaded on first use, so that ``import wheelbundle`` stays cheap (pip's launcher
for another server imports this package too).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("wheelbundle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_PUBLIC = {
    "make_bundle": "pipeline",
    "MakeOptions": "inputs.options",
    "MakeResult": "pipeline",
    "plan_bundle": "pipeline",
    "PlanResult": "pipeline",
    "verify_bundle": "review.verify",
    "Verified": "review.verify",
    "inspect_data": "review.inspect",
    "diff_bundles": "review.diff",
    "Change": "review.diff",
    "merge_bundles": "pack.merge",
    "index_bundles": "index.static",
    "Indexed": "index.static",
    "publish_bundles": "index.publish",
    "Published": "index.publish",
    "read_manifest": "format.layout",
    "Manifest": "format.manifest",
    "Target": "target",
    "parse_target": "target",
    "Reporter": "progress",
    "BundleError": "errors",
    "UsageError": "errors",
    "VerifyFailed": "errors",
}
__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'wheelbundle' has no attribute {name!r}")
    return getattr(importlib.import_module(f"wheelbundle.{_PUBLIC[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
