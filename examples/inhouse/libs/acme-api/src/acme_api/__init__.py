"""ACME's device registry: prints the host name a device is registered under."""

import sys

from acme_core import device_host

__version__ = "0.9.0"


def main() -> int:
    names = sys.argv[1:] or ["Pumpe-Süd.Halle-3"]
    try:
        from colorama import Fore, Style  # the [color] extra
    except ImportError:
        bold = reset = ""
    else:
        bold, reset = Fore.GREEN + Style.BRIGHT, Style.RESET_ALL
    for name in names:
        print(f"{bold}{device_host(name)}{reset}")
    return 0
