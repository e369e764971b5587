"""A wheel is what it says it is: every member in its RECORD with its hash, its name its
metadata's. (Zip bombs, refused before they inflate, are in journeys/test_faults.py.)"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from support.packages import dist_info_dir, make_wheel

from wheelbundle.errors import BundleError, VerifyFailed
from wheelbundle.format.wheelcheck import check_wheel, kept_wheel
from wheelbundle.format.wheelfile import metadata_bytes, wheel_metadata


def _rezip(wheel: Path, dest: Path, change: dict[str, bytes | None]) -> Path:
    """The wheel with some members' bytes replaced (None drops one), its RECORD left as it was."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = change.get(info.filename, src.read(info))
            if data is not None:
                out.writestr(info.filename, data)
        for name, data in change.items():
            if name not in src.namelist() and data is not None:
                out.writestr(name, data)
    return dest


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "made", "alpha", "1.0", requires=["beta>=2"])


def test_a_real_wheel_passes(wheel: Path) -> None:
    check_wheel(wheel, "alpha")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"alpha/__init__.py": b"tampered"},
            "alpha/__init__.py does not match the hash in its RECORD",
        ),
        ({"alpha/extra.py": b"smuggled"}, "alpha/extra.py is not listed in its RECORD"),
        ({f"{dist_info_dir('alpha', '1.0')}/RECORD": None}, "not a valid wheel"),
        ({"../escape.py": b"x"}, "unsafe path ../escape.py inside the wheel"),
    ],
)
def test_a_changed_member_is_named(
    wheel: Path, tmp_path: Path, change: dict[str, bytes | None], error: str
) -> None:
    bad = _rezip(wheel, tmp_path / wheel.name, change)
    with pytest.raises(VerifyFailed, match=f"^alpha: {error}"):
        check_wheel(bad, "alpha")


def test_a_file_name_that_disagrees_with_the_metadata_is_refused(
    wheel: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "alpha-2.0-py3-none-any.whl"
    renamed.write_bytes(wheel.read_bytes())
    with pytest.raises(VerifyFailed, match="its file name says alpha 2.0 but its metadata says"):
        check_wheel(renamed, "alpha")


def test_metadata_is_read_once_for_everyone_and_an_unreadable_wheel_is_an_error(
    wheel: Path, tmp_path: Path
) -> None:
    assert wheel_metadata(wheel).get_all("Requires-Dist") == ["beta>=2"]
    assert metadata_bytes(wheel).startswith(b"Metadata-Version: ")
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(
        BundleError, match="^broken-1.0-py3-none-any.whl: cannot read the wheel's METADATA"
    ):
        wheel_metadata(broken)


def test_a_kept_wheel_is_checked_on_use_and_its_folder_removed_when_damaged(
    wheel: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    copy = kept / wheel.name
    copy.write_bytes(wheel.read_bytes())
    assert kept_wheel(kept, "alpha") == copy
    copy.write_bytes(copy.read_bytes()[:-100])  # cut short on disk
    assert kept_wheel(kept, "alpha") is None
    assert not kept.exists()  # to be made again, never packed
