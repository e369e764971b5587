"""OpenSSH signatures: ``make --sign``, ``verify --allowed-signers``, ``install.sh --allowed-signers``.

Keys are made with ``ssh-keygen`` in a temporary folder. A good signature passes; a signature by
another key, a manifest changed after signing (with SHA256SUMS forged to match, or not) and an
unsigned bundle are refused, by ``bundle verify`` and by ``install.sh`` before it writes anything.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from support.bundles import (
    bundle,
    flip_one_byte,
    make_archive,
    member_names,
    read_member,
    rewrite,
    unpack,
)
from support.fixtures import RunOffline
from support.index import LocalIndex
from support.packages import pure_bundle_tag

from wheelbundle.errors import BundleError
from wheelbundle.format.layout import SIGNATURE
from wheelbundle.format.sign import sign

PURE = pure_bundle_tag()
"""What a bundle of pure wheels for this Python is named after."""

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def keygen(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", key],
        check=True,
        timeout=60,
    )
    return key


def allowed_signers(path: Path, principal: str, key: Path) -> Path:
    """The operator's trust file: ``PRINCIPAL namespaces="wheelbundle" KEYTYPE KEY``."""
    kind, blob = Path(f"{key}.pub").read_text().split()[:2]
    path.write_text(f'{principal} namespaces="wheelbundle" {kind} {blob}\n')
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    ops, mallory = keygen(folder, "ops"), keygen(folder, "mallory")
    return {
        "ops": ops,
        "mallory": mallory,
        "allowed": allowed_signers(folder / "allowed_signers", "ops@example.com", ops),
    }


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, index: LocalIndex, keys: dict[str, Path]
) -> Path:
    return make_archive(
        tmp_path_factory.mktemp("signed"), index.url, "alpha", args=("--sign", str(keys["ops"]))
    )


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> Path:
    return make_archive(tmp_path_factory.mktemp("unsigned"), index.url, "alpha")


@pytest.fixture(scope="module")
def variants(
    signed: Path, unsigned: Path, keys: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The good bundle and every way of getting it wrong, each as an archive."""
    tmp = tmp_path_factory.mktemp("variants")
    sums = read_member(signed, "SHA256SUMS")
    manifest = read_member(signed, "manifest.yaml")
    changed = flip_one_byte(manifest, at=len(manifest) - 2)
    old, new = (hashlib.sha256(m).hexdigest().encode() for m in (manifest, changed))
    return {
        "good": signed,
        "unsigned": unsigned,
        "other key": rewrite(
            signed, tmp / "other.tar.gz", {SIGNATURE: sign(sums, keys["mallory"])}
        ),
        "manifest changed, sums forged": rewrite(
            signed,
            tmp / "forged.tar.gz",
            {"manifest.yaml": changed, "SHA256SUMS": sums.replace(old, new)},
        ),
        "manifest changed": rewrite(signed, tmp / "changed.tar.gz", {"manifest.yaml": changed}),
    }


def test_the_signature_sits_beside_sha256sums_and_outside_it(signed: Path) -> None:
    top = member_names(signed)[0]
    assert f"{top}/{SIGNATURE}" in member_names(signed)
    assert SIGNATURE not in read_member(signed, "SHA256SUMS").decode()
    assert read_member(signed, SIGNATURE).startswith(b"-----BEGIN SSH SIGNATURE-----")


def test_ed25519_signatures_are_deterministic(keys: dict[str, Path]) -> None:
    assert sign(b"same bytes\n", keys["ops"]) == sign(b"same bytes\n", keys["ops"])


@pytest.mark.parametrize(
    ("variant", "code", "message"),
    [
        ("good", 0, f"OK, 3 wheels for {PURE}; signed by ops@example.com"),
        ("unsigned", 3, "error: SHA256SUMS.sig: the bundle is not signed"),
        ("other key", 3, "error: SHA256SUMS.sig: not signed by any key in"),
        (
            "manifest changed, sums forged",
            3,
            "error: SHA256SUMS.sig: the signature by ops@example.com does not match SHA256SUMS",
        ),
        ("manifest changed", 3, "error: manifest.yaml: checksum mismatch"),
    ],
)
def test_bundle_verify_with_allowed_signers(
    variants: dict[str, Path],
    keys: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    variant: str,
    code: int,
    message: str,
) -> None:
    outcome = bundle(capsys, "verify", variants[variant], "--allowed-signers", keys["allowed"])
    assert outcome.code == code
    text = outcome.out if code == 0 else outcome.err
    assert message in text
    assert len(text.strip().splitlines()) == 1


def test_verify_without_allowed_signers_says_the_signature_was_not_checked(
    signed: Path, unsigned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "signed (pass --allowed-signers FILE" in bundle(capsys, "verify", signed).out
    assert "; not signed" in bundle(capsys, "verify", unsigned).out


def test_a_missing_allowed_signers_file_is_a_usage_error(
    signed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = bundle(capsys, "verify", signed, "--allowed-signers", tmp_path / "nope")
    assert outcome.code == 2
    assert outcome.err.startswith("error: no allowed signers file at")


def test_make_with_a_key_that_cannot_sign_writes_nothing(
    index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.bundles import requirements

    req = requirements(tmp_path / "app", "alpha")
    outcome = bundle(
        capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url, "-q",
        "--sign", tmp_path / "no-such-key",
    )  # fmt: skip
    assert outcome.code == 1
    assert outcome.err.startswith(f"error: cannot sign with {tmp_path / 'no-such-key'}:")
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_a_missing_ssh_keygen_is_a_clear_error(
    keys: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BundleError, match=r"^signatures need ssh-keygen \(OpenSSH 8.2 or later\)"):
        sign(b"data", keys["ops"])


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("unsigned", "error: SHA256SUMS.sig: the bundle is not signed"),
        ("other key", "error: SHA256SUMS.sig: not signed by any key in"),
        (
            "manifest changed, sums forged",
            "error: SHA256SUMS.sig: the signature by ops@example.com does not match SHA256SUMS",
        ),
        ("manifest changed", "error: manifest.yaml: checksum mismatch"),
    ],
)
def test_install_sh_refuses_before_writing_anything(
    variants: dict[str, Path],
    keys: dict[str, Path],
    tmp_path: Path,
    offline: RunOffline,
    variant: str,
    message: str,
) -> None:
    top = unpack(variants[variant], tmp_path / "server")
    venv = tmp_path / "venv"
    refused = offline([top / "install.sh", "--allowed-signers", keys["allowed"], venv])
    assert refused.returncode == 4, refused.stderr
    assert message in refused.stderr
    assert not venv.exists() and not (tmp_path / "venv.releases").exists()


def test_install_sh_installs_a_bundle_signed_by_an_allowed_key(
    signed: Path, keys: dict[str, Path], tmp_path: Path, offline: RunOffline
) -> None:
    top = unpack(signed, tmp_path / "server")
    venv = tmp_path / "venv"
    done = offline([top / "install.sh", "--allowed-signers", keys["allowed"], venv])
    assert done.returncode == 0, done.stderr
    assert "signature checked: SHA256SUMS signed by ops@example.com" in done.stderr
    assert offline([venv / "bin" / "python", "-c", "import alpha, beta"]).returncode == 0


def test_install_sh_mentions_an_unchecked_signature(
    signed: Path, tmp_path: Path, offline: RunOffline
) -> None:
    top = unpack(signed, tmp_path / "server")
    checked = offline([top / "install.sh", "--check", tmp_path / "venv"])
    assert checked.returncode == 0, checked.stderr
    assert "the bundle is signed; pass --allowed-signers FILE" in checked.stderr
