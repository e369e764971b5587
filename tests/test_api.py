"""The public API: what ``wheelbundle.__all__`` names is importable, and importing is cheap."""

from __future__ import annotations

import subprocess
import sys

import wheelbundle


def test_every_public_name_is_there_and_is_the_librarys_own() -> None:
    for name in wheelbundle.__all__:
        value = getattr(wheelbundle, name)
        assert name == "__version__" or value.__module__.startswith("wheelbundle.")


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        wheelbundle.make_bundel  # noqa: B018
    except AttributeError as exc:
        assert "make_bundel" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_wheelbundle_loads_none_of_the_library() -> None:
    probe = "import sys, wheelbundle; print(sorted(m for m in sys.modules if m.startswith('wheelbundle')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['wheelbundle']"
