"""wheelbundle: requirements in, one archive out, installed offline on the server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wheelbundle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
