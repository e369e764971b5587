"""Requirements files read once, as pip reads them: includes followed, comments and
continuations handled, encodings decoded, and every line kept with its file and number."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelbundle.errors import UsageError
from wheelbundle.inputs.reqfile import asked_for, read_requirements, requirement_files


def test_includes_constraints_continuations_and_comments(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("beta==2.0  # pinned\n")
    (tmp_path / "limits.txt").write_text("gamma<2\n")
    main = tmp_path / "requirements.txt"
    main.write_text("# our app\nalpha \\\n  >=1.0\n-r base.txt\n-c limits.txt\n")
    read = read_requirements([main])
    assert read.requirements() == ["alpha >=1.0", "beta==2.0", "gamma<2"]
    where = {
        line.requirement()[0]: (line.file.name, line.number, line.constraint) for line in read.lines
    }
    assert where["alpha >=1.0"] == ("requirements.txt", 2, False)
    assert where["beta==2.0"] == ("base.txt", 1, False)
    assert where["gamma<2"] == ("limits.txt", 1, True)
    holding = read.line_holding(">=1.0")
    assert holding is not None and (holding.file, holding.number) == (main, 2)


def test_a_file_included_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n-r b.txt\n")
    (tmp_path / "b.txt").write_text("beta\n-r a.txt\n")
    assert read_requirements([tmp_path / "a.txt"]).requirements() == ["alpha", "beta"]


def test_the_files_given_are_not_project_names(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("alpha\n--hash-free-line-is-an-option\n")
    args = ["-r", str(req), "delta[fast]"]
    assert requirement_files(args) == [req]
    assert asked_for(args, read_requirements([req])) == ["alpha", "delta[fast]"]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("alpha\n".encode("utf-16"), "alpha"),
        (b"# -*- coding: latin-1 -*-\ncaf\xe9\n", "caf\xe9"),
        (b"\xef\xbb\xbfalpha\n", "alpha"),
    ],
)
def test_encodings_are_decoded_as_pip_decodes_them(tmp_path: Path, data: bytes, text: str) -> None:
    req = tmp_path / "requirements.txt"
    req.write_bytes(data)
    assert read_requirements([req]).requirements() == [text]


def test_a_file_that_is_not_text_is_one_error(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_bytes(b"alpha\0\0\n")
    with pytest.raises(UsageError, match="holds NUL characters, so it is not a requirements file"):
        read_requirements([req])
