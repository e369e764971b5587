"""SHA256SUMS is coreutils' format, sorted, and read back strictly."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from wheelbundle.errors import VerifyFailed
from wheelbundle.format.checksums import parse_sha256sums, sha256sums


def test_sha256sum_itself_checks_what_we_write(tmp_path: Path) -> None:
    files = {"wheels/b.whl": b"bee", "install.sh": b"#!/bin/sh\n"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    text = sha256sums({n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    assert [line.split("  ")[1] for line in text.splitlines()] == ["install.sh", "wheels/b.whl"]
    (tmp_path / "SHA256SUMS").write_text(text)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert parse_sha256sums(text) == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}


@pytest.mark.parametrize("line", ["abc  wheels/x.whl", f"{'0' * 64} wheels/x.whl", f"{'0' * 64}  "])
def test_a_malformed_line_is_named(line: str) -> None:
    with pytest.raises(VerifyFailed, match="^SHA256SUMS line 2 is malformed"):
        parse_sha256sums(f"{'1' * 64}  install.sh\n{line}\n")
