"""How the fetcher reaches the indexes: as pip does, by pip's own settings (its CA bundle, its
proxy, the hosts it trusts), read from pip's configuration once and only when first needed, and
trusting TLS certificates as pip does."""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import truststore

from wheelbundle.errors import UsageError
from wheelbundle.pip.config import pip_settings
from wheelbundle.pip.runner import Runner, run_pip


@dataclass(frozen=True)
class Network:
    """How pip reaches the indexes, which the fetcher follows: its CA bundle, its client
    certificate and its proxy.

    ``proxy`` is pip's own setting (``--proxy``, ``PIP_PROXY``, pip.conf); without one, the
    environment's ``https_proxy``/``http_proxy``, as pip reads them. A host in ``no_proxy`` is
    reached directly either way. A ``trusted_hosts`` entry (``host`` or ``host:port``) is
    trusted as pip trusts it: its HTTPS certificate is not checked. ``client_cert`` is pip's
    ``--client-cert`` (``PIP_CLIENT_CERT``): one PEM file with the certificate and its key, for an
    index that asks who connects (mutual TLS).
    """

    cafile: str | None = None
    proxy: str | None = None
    trusted_hosts: frozenset[str] = frozenset()
    client_cert: str | None = None

    def context(self, parts: SplitResult) -> ssl.SSLContext:
        """TLS for this URL's host: checked against the CA bundle, unless pip trusts the host.

        Made once per network, for every fetcher of a run: loading the CAs costs 25 ms.
        """
        host = parts.hostname or ""
        trusted = {host, f"{host}:{parts.port}"} & self.trusted_hosts
        return self._unverified if trusted else self._verified

    @functools.cached_property
    def _verified(self) -> ssl.SSLContext:
        """pip's trust (24.2 on): the operating system's store through truststore (OpenSSL's
        store on Linux, the keychain on macOS, the certificate store on Windows), certifi's
        bundle beside it, and pip's ``cert`` added to both, as pip's requests adds it."""
        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(certifi.where())
        if self.cafile:
            try:
                context.load_verify_locations(self.cafile)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(
                    f"the CA bundle {self.cafile} (PIP_CERT, or cert in pip.conf) cannot be "
                    f"used: {getattr(exc, 'strerror', None) or exc}; give a PEM file of "
                    "certificates, as pip takes it"
                ) from exc
        return self._presenting(context)

    @functools.cached_property
    def _unverified(self) -> ssl.SSLContext:
        """Without checking who answers: only for the hosts the user told pip to trust."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return self._presenting(context)

    def _presenting(self, context: ssl.SSLContext) -> ssl.SSLContext:
        """The context, showing the client certificate pip would show, if one is set."""
        if self.client_cert is None:
            return context
        try:
            context.load_cert_chain(self.client_cert)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"the client certificate {self.client_cert} (PIP_CLIENT_CERT, or client-cert in "
                f"pip.conf) cannot be used: {getattr(exc, 'strerror', None) or exc}; give one PEM "
                "file holding the certificate and its key, as pip takes it"
            ) from exc
        return context

    def proxy_for(self, url: str) -> SplitResult | None:
        """The proxy a request for ``url`` goes through; None to connect directly."""
        parts = urlsplit(url)
        if proxy_bypass(parts.hostname or ""):
            return None
        found = self.proxy or getproxies().get(parts.scheme)
        return urlsplit(found if "://" in found else f"http://{found}") if found else None


@dataclass(frozen=True)
class PipWiring:
    """pip's configuration and the network it implies, each asked for at most once and only
    when first needed (``pip config list`` costs a run of pip): what every fetcher of a command
    follows, so that it reaches the indexes as pip does."""

    pip_config: Callable[[], str]
    network: Callable[[], Network]


def pip_wiring(run: Runner = run_pip, trusted_hosts: Sequence[str] = ()) -> PipWiring:
    pip_config = functools.cache(lambda: run(["config", "list"]).output)
    return PipWiring(pip_config, functools.cache(lambda: pip_network(pip_config, trusted_hosts)))


def pip_network(pip_config: Callable[[], str], trusted_hosts: Sequence[str] = ()) -> Network:
    """pip's CA bundle, client certificate, proxy and trusted hosts: ``--trusted-host``,
    ``PIP_CERT`` (or ``REQUESTS_CA_BUNDLE``), ``PIP_CLIENT_CERT``, ``PIP_PROXY``, ``PIP_TRUSTED_HOST``, and the same settings
    in pip.conf."""
    settings = pip_settings(os.environ, pip_config)
    return Network(
        # Without a cert of pip's own, requests (in pip) takes these from the environment.
        cafile=settings.get("cert")
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE"),
        proxy=settings.get("proxy"),
        trusted_hosts=frozenset([*trusted_hosts, *settings.get("trusted-host", "").split()]),
        client_cert=settings.get("client-cert"),
    )
