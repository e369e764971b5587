"""Hash-pinned requirements (pip-compile ``--generate-hashes``): every file must match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, requirements, unpack
from support.index import LocalIndex
from support.packages import make_wheel, sha256_hex

from wheelbundle.errors import HashMismatch, PipHashMismatch, UsageError
from wheelbundle.format.manifest import Manifest
from wheelbundle.inputs.pinned_hashes import check_file, given_hashes
from wheelbundle.inputs.reqfile import read_requirements
from wheelbundle.pip.runner import classify_failure

WHEEL = "beta-2.0-py3-none-any.whl"


def _compiled(packages_dir: Path, **wrong: str) -> list[str]:
    """A pip-compile style file for alpha (wheel), beta (wheel) and gamma (sdist)."""
    files = {
        "alpha": "alpha-1.0-py3-none-any.whl",
        "beta": WHEEL,
        "gamma": "gamma-1.0.tar.gz",
    }
    lines = []
    for name, file in files.items():
        version = file.split("-")[1].removesuffix(".tar.gz")
        digest = wrong.get(name, sha256_hex(packages_dir / file))
        lines += [f"{name}=={version} \\", f"    --hash=sha256:{digest}", "    # via -r in"]
    return lines


@pytest.mark.parametrize(
    ("drop", "pin_beta", "expected"),
    [
        ("beta", None, "alpha 1.0 needs beta>=1.0, which is not pinned"),
        ("beta", "0.9", "alpha 1.0 needs beta>=1.0, not beta 0.9"),
    ],
)
def test_a_hash_pinned_file_is_a_lock_and_must_hold_every_dependency(
    capsys: pytest.CaptureFixture[str],
    make_index: Any,
    packages_dir: Path,
    tmp_path: Path,
    drop: str,
    pin_beta: str | None,
    expected: str,
) -> None:
    """pip only finds the pinned files (no resolution), so a dependency the lock lacks is named."""
    old = make_wheel(tmp_path / "old", "beta", "0.9")
    index = make_index(*packages_dir.iterdir(), old)
    lines = _compiled(packages_dir)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{drop}=="))
    del lines[start : start + 3]
    if pin_beta:
        lines += [f"beta=={pin_beta} --hash=sha256:{sha256_hex(old)}"]
    req = requirements(tmp_path / "app", *lines)
    refused = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert refused.code == 1
    (message,) = refused.err.strip().splitlines()[-1:]
    assert message.startswith("error: the hash-pinned requirements are not a complete lock: ")
    assert expected in message and "pip-compile --generate-hashes" in message


def test_a_hash_pinned_file_bundles_and_installs_offline(
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    packages_dir: Path,
    tmp_path: Path,
    offline: Any,
) -> None:
    req = requirements(tmp_path / "app", *_compiled(packages_dir))
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    packages = {p.name: p for p in manifest.packages}
    assert sorted(packages) == ["alpha", "beta", "gamma", "pip"]
    gamma = packages["gamma"]
    assert gamma.source_sha256 == sha256_hex(packages_dir / "gamma-1.0.tar.gz")
    assert gamma.sha256 == sha256_hex(top / "wheels" / gamma.wheel) != gamma.source_sha256
    lock = (top / "requirements.lock").read_text()
    assert f"gamma==1.0 --hash=sha256:{gamma.sha256}" in lock
    assert f"beta==2.0 --hash=sha256:{sha256_hex(packages_dir / WHEEL)}" in lock
    venv = tmp_path / "venv"
    installed = offline([top / "install.sh", venv])
    assert installed.returncode == 0, installed.stderr
    assert offline([venv / "bin" / "python", "-c", "import alpha, beta, gamma"]).returncode == 0


def test_a_wrong_hash_fails_with_one_line_and_no_archive(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, packages_dir: Path, tmp_path: Path
) -> None:
    wrong = "0" * 64
    req = requirements(tmp_path / "app", *_compiled(packages_dir, beta=wrong))
    outcome = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert outcome.code == 1
    assert outcome.out == ""
    errors = [ln for ln in outcome.err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, outcome.err
    actual = sha256_hex(packages_dir / WHEEL)
    assert errors[0].startswith(f"error: beta==2.0: {WHEEL} does not match the hash in ")
    assert f"expected sha256:{wrong}, got sha256:{actual}" in errors[0]
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_a_requirement_without_a_hash_beside_hashed_ones_is_named_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, packages_dir: Path, tmp_path: Path
) -> None:
    """pip refuses such a file; leaving the line out would ship a bundle without the package."""
    req = requirements(tmp_path / "app", *_compiled(packages_dir), "epsilon==1.0")
    outcome = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert outcome.code == 2
    assert outcome.err == (
        f"error: {req} line 10: 'epsilon==1.0' has no --hash, but other requirements do, and "
        "then every one needs its hashes (pip's hash-checking mode); add them (pip hash, or "
        "regenerate with pip-compile --generate-hashes or uv export)\n"
    )
    assert not (tmp_path / "dist").exists()


def test_a_constraint_needs_no_hash_in_a_hash_pinned_file(
    capsys: pytest.CaptureFixture[str], index: LocalIndex, packages_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "constraints.txt").write_text("beta==2.0\nepsilon<2\n")
    lines = ["-c constraints.txt", *_compiled(packages_dir)]
    req = requirements(tmp_path / "app", *lines)
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index.url)
    assert made.code == 0, made.err


def test_the_requirements_reader_follows_continuations_comments_and_nested_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "base.txt").write_text(
        "--index-url https://example.invalid/simple  # a comment\n"
        "Foo_Bar[x]==1.0 ; python_version >= '3' \\\n"
        "    --hash=sha256:AAAA \\\n"
        "    --hash sha256:bbbb\n"
        "-c pins.txt\n"
    )
    (tmp_path / "pins.txt").write_text("plain==2.0\n")  # a constraint: no hash needed
    (tmp_path / "req.txt").write_text(
        "-r base.txt\n# baz==1 --hash=sha256:cc\nqux==3 --hash=sha512:dd\n"
    )
    found = given_hashes(read_requirements([tmp_path / "req.txt"]))
    assert sorted(found) == ["foo-bar", "qux"]
    assert found["foo-bar"].hashes == {("sha256", "aaaa"), ("sha256", "bbbb")}
    assert found["foo-bar"].where == f"{tmp_path / 'base.txt'} line 2"
    assert found["qux"].hashes == {("sha512", "dd")}


def test_a_malformed_hash_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("a==1\nb==1 --hash=deadbeef\n")
    with pytest.raises(UsageError, match=r"req.txt line 2: --hash=deadbeef is not ALGORITHM:HEX"):
        given_hashes(read_requirements([tmp_path / "req.txt"]))


def test_our_own_check_names_package_file_expected_and_actual(
    tmp_path: Path, packages_dir: Path
) -> None:
    """A resolution from metadata alone never downloads the file: the bundle's bytes are checked."""
    (tmp_path / "req.txt").write_text(f"beta==2.0 --hash=sha256:{'1' * 64}\n")
    given = given_hashes(read_requirements([tmp_path / "req.txt"]))["beta"]
    with pytest.raises(HashMismatch) as caught:
        check_file(packages_dir / WHEEL, "beta==2.0", given)
    assert str(caught.value).startswith(
        f"beta==2.0: {WHEEL} does not match the hash in {tmp_path / 'req.txt'} line 1: "
        f"expected sha256:{'1' * 64}, got sha256:{sha256_hex(packages_dir / WHEEL)}"
    )
    check_file(
        packages_dir / WHEEL,
        "beta==2.0",
        given_hashes(read_requirements([_right(tmp_path, packages_dir)]))["beta"],
    )


def _right(tmp_path: Path, packages_dir: Path) -> Path:
    path = tmp_path / "right.txt"
    path.write_text(
        f"beta==2.0 --hash=sha256:{'1' * 64} --hash=sha256:{sha256_hex(packages_dir / WHEEL)}\n"
    )
    return path


def test_pips_own_mismatch_report_becomes_one_line() -> None:
    output = (
        "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have\n"
        "    beta==2.0 from http://127.0.0.1:1/files/beta-2.0-py3-none-any.whl#sha256=ab (from -r r.txt (line 3)):\n"
        "        Expected sha256 00\n"
        "                 or 11\n"
        "             Got        ab\n"
    )
    error = classify_failure(["pip"], 1, output)
    assert isinstance(error, PipHashMismatch)
    assert str(error).startswith(
        "beta==2.0: beta-2.0-py3-none-any.whl does not match the hash in the requirements "
        "(-r r.txt (line 3)): expected sha256:00 or sha256:11, got sha256:ab;"
    )


def test_a_file_unlike_the_index_hash_is_named_as_the_index_s() -> None:
    output = (
        "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have\n"
        "    beta from http://127.0.0.1:1/files/beta-2.0-py3-none-any.whl#sha256=00 (from alpha):\n"
        "        Expected sha256 00\n"
        "             Got        ab\n"
    )
    error = classify_failure(["pip"], 1, output)
    assert isinstance(error, PipHashMismatch)
    assert str(error) == (
        "beta: beta-2.0-py3-none-any.whl does not match the hash the index published (expected "
        "sha256:00, got sha256:ab). Someone may have replaced it: check the index before trusting it"
    )
