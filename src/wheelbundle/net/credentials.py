"""Credentials for private indexes: found wherever pip finds them, sent, never written down.

pip strips ``user:password@`` from the URLs in its report, so the fetcher that downloads the
files pip chose must find the credentials again, in the places pip reads them: index and
find-links URLs on the command line, URLs in requirements files (``--index-url`` lines, direct
references), ``PIP_*`` variables and pip's configuration files (asked of ``pip config list``, so
``PIP_CONFIG_FILE`` and every file pip reads count), then ``$NETRC`` or ``~/.netrc``. They stay in
memory: sent in an ``Authorization`` header to the host they belong to, and never logged, cached
or packed. Every message that may quote a URL goes through ``redaction.redact``.
"""

from __future__ import annotations

import base64
import netrc
import os
import shlex
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from wheelbundle.net.simple import index_base
from wheelbundle.pip.config import config_settings
from wheelbundle.redaction import USERINFO

#: pip options (and their ``pip config`` keys) whose values are places to look for distributions.
LOCATION_OPTIONS = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
}
_ENVIRONMENT = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Login:
    """A user name and password for HTTP basic authentication; a repr never shows the password."""

    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        """The ``Authorization`` header value (HTTP basic)."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True)
class Location:
    """An index, find-links page or file URL pip may read, and the login its URL carried."""

    url: str
    """Without credentials: safe to show."""
    login: Login | None = None

    @classmethod
    def parse(cls, url: str) -> Location:
        parts = urlsplit(url)
        if parts.username is None:
            return cls(url)
        bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        return cls(bare, Login(unquote(parts.username), unquote(parts.password or "")))


class Credentials:
    """Logins for the places pip reads, matched to a URL as pip matches them.

    A URL gets the login of the longest location it starts with, else of a location on the same
    host and port (an index's files often live outside its path, as on devpi), else the netrc
    entry for its host. ``configured`` (pip's configuration) is only asked when the given
    locations have no login for a URL, so a rebuild that downloads nothing never runs pip.
    """

    def __init__(
        self,
        urls: Iterable[str] = (),
        configured: Callable[[], Iterable[str]] | None = None,
        netrc_file: Path | None = None,
    ):
        self._given = [Location.parse(url) for url in urls]
        self._configured = configured
        self._netrc_file = netrc_file
        self._lock = threading.Lock()
        self._loaded: tuple[list[Location], netrc.netrc | None] | None = None

    def login(self, url: str) -> Login | None:
        """The login to send with a request for ``url``, if any."""
        if urlsplit(url).scheme not in _DEFAULT_PORTS:
            return None
        found = _match(self._given, url)
        if found is None:
            configured, netrc_entries = self._load()
            found = _match(configured, url) or _netrc_login(netrc_entries, url)
        return found

    def header(self, url: str) -> str | None:
        """The ``Authorization`` header for ``url``, or None to send none."""
        login = self.login(url)
        return login.header() if login else None

    def http_locations(self) -> list[str]:
        """Every HTTP(S) location pip may read, without credentials: where to ask who refused."""
        every = [*self._given, *self._load()[0]]
        urls = [loc.url for loc in every if urlsplit(loc.url).scheme in _DEFAULT_PORTS]
        return list(dict.fromkeys(urls))

    def _load(self) -> tuple[list[Location], netrc.netrc | None]:
        with self._lock:
            if self._loaded is None:
                urls = self._configured() if self._configured else ()
                self._loaded = ([Location.parse(u) for u in urls], _read_netrc(self._netrc_file))
            return self._loaded


def _match(locations: Sequence[Location], url: str) -> Login | None:
    with_login = [loc for loc in locations if loc.login is not None]
    prefixed = [loc for loc in with_login if url.startswith(index_base(loc.url))]
    if prefixed:
        return max(prefixed, key=lambda loc: len(loc.url)).login
    same_host = (loc for loc in with_login if _host_port(loc.url) == _host_port(url))
    return next((loc.login for loc in same_host), None)


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number: no request goes there anyway
        port = None
    return (parts.hostname or "", port or _DEFAULT_PORTS.get(parts.scheme))


def _read_netrc(path: Path | None) -> netrc.netrc | None:
    """The netrc file requests (and so pip) reads: ``$NETRC``, else ``~/.netrc`` or ``~/_netrc``."""
    candidates = [path] if path else []
    if not candidates and (env := os.environ.get("NETRC")):
        candidates = [Path(env).expanduser()]
    candidates = candidates or [Path.home() / ".netrc", Path.home() / "_netrc"]
    for candidate in candidates:
        try:
            return netrc.netrc(str(candidate))
        except (OSError, netrc.NetrcParseError):
            continue
    return None


def _netrc_login(entries: netrc.netrc | None, url: str) -> Login | None:
    host = urlsplit(url).hostname
    entry = entries.authenticators(host) if entries and host else None
    if not entry:
        return None
    return Login(entry[0] or entry[1] or "", entry[2] or "")


def pip_credentials(
    pip_options: Sequence[str],
    requirement_lines: Iterable[str],
    pip_config: Callable[[], str],
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The credentials of everything pip will read for this bundle.

    ``pip_options`` are the index options given on our command line, ``requirement_lines`` the
    logical lines of the requirements files (and the files they include); ``pip_config`` returns
    the output of ``pip config list`` (only called if needed, see :class:`Credentials`).
    """
    env = os.environ if environ is None else environ
    given = [
        *option_values(pip_options),
        *_requirement_file_urls(requirement_lines),
        *(url for name in _ENVIRONMENT for url in env.get(name, "").split()),
    ]
    if env.get("PIP_CONFIG_FILE") == os.devnull:  # pip reads no file: nothing to ask it
        return Credentials(given)
    return Credentials(given, configured=lambda: config_locations(pip_config()))


def option_values(words: Sequence[str], options: Iterable[str] = LOCATION_OPTIONS) -> Iterator[str]:
    """The values of some options (default: index and find-links) in a pip argument list."""
    wanted = set(options)
    for i, word in enumerate(words):
        option, equals, value = word.partition("=")
        if option in wanted and equals:
            yield value
        elif word in wanted and i + 1 < len(words):
            yield words[i + 1]


def _requirement_file_urls(lines: Iterable[str]) -> Iterator[str]:
    """Locations in requirements files' lines: options and direct URLs."""
    for line in lines:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        yield from option_values(words)
        for word in words:  # a direct reference: name @ https://user:pw@host/…
            if m := USERINFO.search(word):
                yield word[m.start() :]


def config_locations(pip_config_list: str) -> list[str]:
    """Index and find-links URLs in the output of ``pip config list``; a value may hold several
    whitespace-separated URLs."""
    keys = set(LOCATION_OPTIONS.values())
    return [
        url
        for key, value in config_settings(pip_config_list)
        if key in keys
        for url in value.split()
    ]
