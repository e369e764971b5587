"""The types of conftest's factory fixtures, for the tests' annotations."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from support.index import LocalIndex

RunOffline = Callable[..., "subprocess.CompletedProcess[str]"]
"""`run_offline(cmd, **kw)`: `subprocess.run` with the network cut; text output captured."""

MakeIndex = Callable[..., LocalIndex]
"""`make_index(*files, metadata=True, username=None, password=None)`: a private index."""
