"""The archive's name: every target in it, and never longer than a file name may be."""

from __future__ import annotations

import pytest

from wheelbundle.format.layout import MAX_ARCHIVE_NAME, archive_name
from wheelbundle.format.manifest import Manifest, TargetEntry

GRID = [f"cp3{m}-manylinux_2_28_{a}" for m in (10, 11, 12, 13) for a in ("x86_64", "aarch64")]


def _manifest(*targets: str) -> Manifest:
    entries = tuple(TargetEntry(t, "cpython", "3.12", "cp312", "any", "l", ()) for t in targets)
    return Manifest("holdout", "2026.12.01", "0", "", "", entries, (), ())


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (GRID[:1], "holdout-2026.12.01-cp310-manylinux_2_28_x86_64.tar.gz"),
        (
            GRID[:2],
            "holdout-2026.12.01-cp310-manylinux_2_28_x86_64+cp310-manylinux_2_28_aarch64.tar.gz",
        ),
        (
            GRID,  # 4 Pythons x 2 platforms: joined with '+' this would be 251 bytes
            "holdout-2026.12.01-cp310.cp311.cp312.cp313-manylinux_2_28_x86_64.manylinux_2_28_aarch64.tar.gz",
        ),
        (GRID[:7], "holdout-2026.12.01-7-targets.tar.gz"),  # not every pair: counted
    ],
)
def test_targets_are_named_in_full_until_the_name_would_be_too_long(
    targets: list[str], expected: str
) -> None:
    name = archive_name(_manifest(*targets))
    assert name == expected
    assert len(name.encode()) <= MAX_ARCHIVE_NAME
