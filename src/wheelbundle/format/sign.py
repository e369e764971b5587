"""Signatures with OpenSSH (``ssh-keygen -Y``, OpenSSH 8.2 or later), which every server has.

What is signed is ``SHA256SUMS``: it holds the hash of every other file in the bundle (the
manifest, ``install.sh``, the locks, the SBOM, each wheel), so one signature covers them all and
``install.sh`` can check it with nothing but ``ssh-keygen`` and ``sha256sum``. The signature is
``SHA256SUMS.sig``, in the namespace ``wheelbundle``; trust is an OpenSSH ``allowed_signers``
file. Ed25519 and RSA signatures are deterministic, so a signed build stays reproducible.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from wheelbundle.errors import BundleError, UsageError, VerifyFailed
from wheelbundle.format.layout import SIGNATURE
from wheelbundle.format.layout import SUMS as SIGNED
from wheelbundle.run import Ran, run

NAMESPACE = "wheelbundle"
TIMEOUT = 300
"""Seconds; signing may wait for a key's passphrase on the terminal."""


def sign(data: bytes, key: Path) -> bytes:
    """The armored signature of ``data`` by ``key``; BundleError with ssh-keygen's reason."""
    done = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", NAMESPACE], data)
    if done.returncode != 0 or not done.stdout:
        raise BundleError(f"cannot sign with {key}: {_reason(done)}")
    return done.stdout.encode()


def require_allowed_signers(allowed_signers: Path) -> None:
    """A missing trust file is the user's mistake, named before anything else is checked."""
    if not allowed_signers.is_file():
        raise UsageError(f"no allowed signers file at {allowed_signers}")


def verify(data: bytes, signature: bytes, allowed_signers: Path) -> str:
    """The principal whose key in ``allowed_signers`` signed ``data``; VerifyFailed otherwise."""
    require_allowed_signers(allowed_signers)
    with tempfile.TemporaryDirectory(prefix="wheelbundle-sig-") as tmp:
        sig = Path(tmp) / SIGNATURE
        sig.write_bytes(signature)
        found = _ssh_keygen(
            ["-Y", "find-principals", "-f", str(allowed_signers), "-s", str(sig)], b""
        )
        principals = found.stdout.split()
        if found.returncode != 0 or not principals:
            raise VerifyFailed(
                f"{SIGNATURE}: not signed by any key in {allowed_signers} ({_reason(found)})"
            )
        principal = principals[0].split(",")[0]
        checked = _ssh_keygen(
            [
                "-Y",
                "verify",
                "-f",
                str(allowed_signers),
                "-I",
                principal,
                "-n",
                NAMESPACE,
                "-s",
                str(sig),
            ],
            data,
        )
    if checked.returncode != 0:
        raise VerifyFailed(
            f"{SIGNATURE}: the signature by {principal} does not match {SIGNED} "
            f"(changed after signing; {_reason(checked)})"
        )
    return principal


def _ssh_keygen(args: Sequence[str], data: bytes) -> Ran:
    """ssh-keygen by its full path: argument list, ``data`` on stdin, output captured."""
    program = shutil.which("ssh-keygen")
    if program is None:
        raise BundleError(
            "signatures need ssh-keygen (OpenSSH 8.2 or later); install the openssh client"
        )
    return run([program, *args], input=data, timeout=TIMEOUT)


def _reason(done: Ran) -> str:
    """ssh-keygen's own last word, without its chatter about standard input."""
    lines = [
        line.strip()
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith("Signing data on standard input")
    ]
    return lines[-1] if lines else f"ssh-keygen exited with status {done.returncode}"
