"""``bundle verify``: an archive checked whole, before it crosses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    add_verbosity,
)
from wheelbundle.format.manifest import Manifest
from wheelbundle.review.verify import verify_bundle

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle verify``'s arguments."""
    verify = commands.add_parser(
        "verify",
        help="check that an archive is intact",
        description="Exit 0 if every file matches the manifest and SHA256SUMS and every wheel its own RECORD; otherwise name the first bad file.",
    )
    verify.add_argument("archive", type=Path)
    verify.add_argument(
        "--base",
        type=Path,
        metavar="OLD",
        help="for a delta bundle: the bundle it was made against, whose wheels it takes",
    )
    verify.add_argument(
        "--allowed-signers",
        type=Path,
        metavar="FILE",
        help="also require a signature by a key in this OpenSSH allowed_signers file",
    )
    add_verbosity(verify)
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 and one OK line, or the first bad file (VerifyFailed)."""
    verified = verify_bundle(args.archive, args.allowed_signers, args.base)
    manifest = verified.manifest
    if not args.quiet:
        print(
            f"{args.archive}: OK, {len(manifest.packages)} wheels for {', '.join(t.name for t in manifest.targets)}"
            + _signature_note(verified.signed, verified.signer)
            + _base_note(manifest, args.base)
        )
    return 0


def _base_note(manifest: Manifest, base: Path | None) -> str:
    if manifest.base is None:
        return ""
    if base is not None:
        return f"; a delta, checked with its base {manifest.base.name} {manifest.base.version}"
    return (
        f"; a delta: the {len(manifest.base.wheels)} wheels it takes from "
        f"{manifest.base.name} {manifest.base.version} were not checked (--base OLD checks them)"
    )


def _signature_note(signed: bool, signer: str | None) -> str:
    if signer:
        return f"; signed by {signer}"
    if signed:
        return "; signed (pass --allowed-signers FILE to check the signature)"
    return "; not signed"
