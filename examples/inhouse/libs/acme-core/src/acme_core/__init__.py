"""ACME's shared code: host names as the plant's devices expect them."""

import idna

__version__ = "1.4.0"


def device_host(name: str) -> str:
    """A device's name as an ASCII host name (IDNA), which the plant's old firmware needs."""
    return idna.encode(name.strip().lower()).decode("ascii")
