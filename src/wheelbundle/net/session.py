"""One run of a command that reads indexes, made once by the command and handed to each stage.

The run's settings, its cache, the credentials found wherever pip finds them, pip's own
configuration and the network it implies (each asked for at most once, and only when needed),
the one runner of pip and the reporter: what resolving and collecting share, so that every
fetcher of a run logs in, trusts certificates and goes through proxies the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wheelbundle.cache import Cache
from wheelbundle.net.credentials import Credentials, pip_credentials
from wheelbundle.net.fetch import Fetcher
from wheelbundle.net.network import Network, pip_wiring
from wheelbundle.pip.runner import Runner
from wheelbundle.pip.settings import PipSettings
from wheelbundle.progress import Reporter


@dataclass(frozen=True)
class Session:
    settings: PipSettings
    cache: Cache
    credentials: Credentials
    pip_config: Callable[[], str]
    network: Callable[[], Network]
    run: Runner
    reporter: Reporter

    @classmethod
    def create(
        cls,
        settings: PipSettings,
        requirement_lines: Sequence[str],
        cache: Cache,
        run: Runner,
        reporter: Reporter,
    ) -> Session:
        """Credentials also come from the requirements' own lines (``--index-url``, direct
        references), as pip reads them."""
        wiring = pip_wiring(run, settings.trusted_hosts)
        credentials = pip_credentials(
            settings.index_options(), requirement_lines, wiring.pip_config
        )
        return cls(settings, cache, credentials, wiring.pip_config, wiring.network, run, reporter)

    def fetcher(self) -> Fetcher:
        """A fetcher that logs in, checks certificates and goes through proxies as pip does."""
        return Fetcher(self.cache, self.credentials, jobs=self.settings.jobs, network=self.network)
