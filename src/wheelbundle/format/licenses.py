"""A wheel's license as one SPDX expression, decided once for the manifest, the SBOM and every
report.

Licenses come from the wheel's own metadata: its ``License-Expression`` (PEP 639), else its
``License ::`` classifiers when they name exactly one SPDX license. Anything else stays unknown:
a classifier without a version (``Apache Software License``, ``BSD License``) is not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.message import Message
from pathlib import Path

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from wheelbundle.format.wheelfile import wheel_metadata

CLASSIFIER_LICENSES: Mapping[str, str] = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "zlib/libpng License": "Zlib",
    "Python Software Foundation License": "PSF-2.0",
}
"""``License :: [OSI Approved ::] NAME`` classifiers that name one SPDX license, and its id."""


def wheel_license(wheel: Path) -> str | None:
    """The SPDX expression a wheel's METADATA declares, or None when it does not say."""
    return license_of(wheel_metadata(wheel))


def license_of(metadata: Message) -> str | None:
    return license_from(metadata.get("License-Expression"), metadata.get_all("Classifier") or ())


def license_from(expression: str | None, classifiers: Iterable[str]) -> str | None:
    """The SPDX expression metadata fields declare (as a wheel's METADATA or pip's report has
    them), or None when they do not say."""
    if expression:
        try:
            return canonicalize_license_expression(str(expression))
        except InvalidLicenseExpression:
            pass
    named = {
        str(c).split("::")[-1].strip()
        for c in classifiers
        if str(c).startswith("License ::") and str(c).strip() != "License :: OSI Approved"
    }
    ids = {CLASSIFIER_LICENSES.get(name) for name in named}
    return ids.pop() if len(ids) == 1 else None
