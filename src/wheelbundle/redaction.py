"""What a message may say of an index URL: its secret hidden (every message that may quote a URL
goes through :func:`redact`), and, for an index that refused, where credentials go. Below pip's
runner and the network alike, since both word such messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.IGNORECASE)
"""The ``user:password@`` of a URL in any text: hidden here, looked for in requirements."""


def redact(text: str) -> str:
    """``text`` with the secret of every ``scheme://user:password@`` replaced by ``****``.

    As pip does: the user name stays when there is a password; a lone token (``https://TOKEN@``)
    is hidden whole.
    """

    def hide(m: re.Match[str]) -> str:
        user, colon, _ = m["userinfo"].partition(":")
        return f"{m['scheme']}{user + ':****' if colon else '****'}@"

    return USERINFO.sub(hide, text)


def refused_message(url: str, status: int, sent: bool | None) -> str:
    """One line for an index that answered 401 or 403: which host, and where credentials go.

    ``sent`` says whether credentials were sent (None: not known, as when pip was refused).
    """
    parts = urlsplit(url)
    where = parts.netloc.rpartition("@")[2]
    places = "the index URL (--index-url, --extra-index-url, the requirements file, PIP_INDEX_URL or pip.conf)"
    if sent is False:
        return (
            f"the index at {where} asks for credentials (HTTP {status}) and none were found for "
            f"it; give them as user:password@ in {places} or as a 'machine {parts.hostname} "
            "login USER password PASSWORD' line in ~/.netrc"
        )
    what = "refused the credentials given for it" if sent else "refused access"
    return (
        f"the index at {where} {what} (HTTP {status}); check the user name and password for "
        f"{where} in {places} or in ~/.netrc"
    )
