"""A wheel's license as one SPDX expression, decided once for the manifest, the SBOM and every
report.

From the wheel's own metadata, first what says most: its ``License-Expression`` (PEP 639); else
a ``License:`` field that is itself a valid SPDX expression (requests' ``Apache-2.0``); else its
``License ::`` classifiers when they name exactly one SPDX license; else the license texts it
ships (``License-File``), when each is one of the common licenses, recognised by the sentences
that make it that license, and they all agree. Anything else stays unknown: a classifier without
a version (``BSD License``), a text that is none of those, two texts that differ.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Mapping
from email.message import Message
from pathlib import Path

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from wheelbundle.format.wheelfile import inflatable, wheel_metadata

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


_TEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Apache-2.0", ("apache license", "version 2.0, january 2004")),
    (
        "MIT",
        (
            "permission is hereby granted, free of charge, to any person obtaining a copy",
            "the above copyright notice and this permission notice shall be included",
        ),
    ),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("MPL-2.0", ("mozilla public license version 2.0",)),
    ("PSF-2.0", ("python software foundation license version 2",)),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
)
"""The common licenses by the sentences each text has (lowercase, spaces collapsed), the most
particular first: a BSD text naming no names is the 2-clause one."""
_NOT_LICENSES = ("AUTHORS", "NOTICE", "CONTRIBUTORS", "COPYRIGHT", "THANKS", "README")
"""``License-File`` entries that are not a license's text (requests ships a NOTICE)."""
_MAX_TEXT = 1 << 18
"""More than any license's text: a larger file is not read."""


def wheel_license(wheel: Path) -> str | None:
    """The SPDX expression a wheel declares, or None when it does not say (see above)."""
    return license_of(wheel_metadata(wheel)) or license_in_texts(wheel)


def license_of(metadata: Message) -> str | None:
    return license_from(
        metadata.get("License-Expression"),
        metadata.get_all("Classifier") or (),
        metadata.get("License"),
    )


def license_from(
    expression: str | None, classifiers: Iterable[str], field: str | None = None
) -> str | None:
    """The SPDX expression metadata fields declare (as a wheel's METADATA or pip's report has
    them), or None when they do not say."""
    for declared in (expression, field):
        if declared and "\n" not in str(declared).strip():
            try:
                return canonicalize_license_expression(str(declared).strip())
            except InvalidLicenseExpression:
                pass
    named = {
        str(c).split("::")[-1].strip()
        for c in classifiers
        if str(c).startswith("License ::") and str(c).strip() != "License :: OSI Approved"
    }
    ids = {CLASSIFIER_LICENSES.get(name) for name in named}
    return ids.pop() if len(ids) == 1 else None


def license_in_texts(wheel: Path) -> str | None:
    """The one common license every license text the wheel ships is, or None."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            texts = [_read(zf, info) for info in _license_files(zf)]
    except (zipfile.BadZipFile, OSError, zlib.error):
        return None
    found = {_recognised(text) for text in texts}
    return found.pop() if len(found) == 1 else None


def _license_files(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The top ``.dist-info``'s license texts: under ``licenses/`` (PEP 639), else beside
    METADATA as older tools put them; never NOTICE, AUTHORS and the like."""
    found = []
    for info in zf.infolist():
        parts = info.filename.split("/")
        if not parts[0].endswith(".dist-info") or info.is_dir() or info.file_size > _MAX_TEXT:
            continue
        name = parts[-1].upper()
        in_licenses = len(parts) > 2 and parts[1] == "licenses"
        beside = len(parts) == 2 and name.startswith(("LICENSE", "LICENCE", "COPYING"))
        if (in_licenses or beside) and not name.startswith(_NOT_LICENSES):
            found.append(info)
    return found


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    return zf.read(inflatable(info, info.filename)).decode("utf-8", "replace")


def _recognised(text: str) -> str | None:
    flat = " ".join(text.lower().replace("*", " ").replace("#", " ").split())
    return next((spdx for spdx, says in _TEXTS if all(s in flat for s in says)), None)
