"""``bundle cache info|clean``: what the cache holds, or empty it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cache import Cache, default_cache_dir
from wheelbundle.review.inspect import human_size

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle cache``'s arguments."""
    cache = commands.add_parser(
        "cache",
        help="show or empty the download, build and resolution cache",
        description="'info' shows what the cache holds; 'clean' empties it.",
    )
    cache.add_argument("action", choices=["info", "clean"])
    cache.add_argument(
        "--cache-dir", type=Path, help="the cache (default: $XDG_CACHE_HOME/wheelbundle)"
    )
    cache.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The cache's folder and what it holds, or that it was emptied."""
    store = Cache(args.cache_dir or default_cache_dir())
    if args.action == "clean":
        store.clean()
        print(f"emptied {store.root}")
        return 0
    print(store.root)
    for kind, (count, size) in store.usage().items():
        print(f"  {kind:<12} {count:>6} files  {human_size(size):>10}")
    return 0
