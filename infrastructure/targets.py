"""Where Herald may send requests: an account's platform, a webhook endpoint, never a private
address unless the operator allowed it.

An account's `base_url` receives the account's access token, and a webhook endpoint receives
signed payloads, so both are server-side request forgery waiting to happen. Herald accepts:

- for X, LinkedIn, Threads and Instagram: `https` on the platform's own hosts only;
- for Mastodon and Bluesky (any instance, any PDS) and webhook endpoints: `https` on a host
  whose every address is public;

and checks the address again when it connects (`outbound_session`): a name that resolved to a
public address at registration and to a private one later (DNS rebinding) is refused then.
Redirects are never followed. `HERALD_ALLOW_PRIVATE_TARGETS=1` lifts the host and address
rules (and allows `http`) for the tests, the demo and the simulator; production leaves it
unset.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from domain.errors import HeraldError
from domain.platform import Platform

SETTING = "HERALD_ALLOW_PRIVATE_TARGETS"

KNOWN_HOSTS: dict[Platform, frozenset[str]] = {
    Platform.X: frozenset({"api.x.com", "api.twitter.com"}),
    Platform.LINKEDIN: frozenset({"api.linkedin.com"}),
    Platform.THREADS: frozenset({"graph.threads.net"}),
    Platform.INSTAGRAM: frozenset({"graph.facebook.com", "graph.instagram.com"}),
    Platform.FACEBOOK: frozenset({"graph.facebook.com"}),
}


class TargetRefused(HeraldError):
    code = "target_refused"
    field = "base_url"


def private_allowed(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(SETTING, "").strip().lower()
    return value in ("1", "true", "yes")


def is_public(address: str) -> bool:
    """Whether an IP address is reachable on the public internet (not loopback, private,
    link-local, shared, reserved, multicast or unspecified; IPv4 inside IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})
    except (OSError, UnicodeError):
        return []


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = field(default_factory=private_allowed)
    resolve: Callable[[str], list[str]] = _resolve

    def account_url(self, url: str, platform: Platform | str) -> str:
        """The account's base URL, normalised; refused unless it is the platform's own host
        (X, LinkedIn, Threads, Instagram) or a public instance (Mastodon, Bluesky)."""
        platform = Platform(platform)
        host = self._shape(url, "base_url")
        known = KNOWN_HOSTS.get(platform)
        if not self.allow_private:
            if known is not None and host not in known:
                raise TargetRefused(
                    f"{platform.value} accounts talk to {', '.join(sorted(known))}, not {host}", field="base_url"
                )
            if known is None:
                self._public(host, "base_url")
        return url.rstrip("/")

    def webhook_url(self, url: str) -> str:
        """A webhook endpoint's URL: https on a public host."""
        self._public(self._shape(url, "url"), "url")
        return url

    def _shape(self, url: str, name: str) -> str:
        """The URL's host, once its shape is acceptable: https (http only when private targets
        are allowed), a host, no user name or password, no fragment."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise TargetRefused(f"{url[:100]!r} is not a URL", field=name) from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if parts.scheme not in schemes:
            raise TargetRefused(f"{name} must be an https:// URL, not {parts.scheme or 'no'} scheme", field=name)
        if not parts.hostname or parts.username is not None or parts.password is not None or parts.fragment:
            raise TargetRefused(f"{name} needs a host, and no user name, password or #fragment", field=name)
        if port is not None and not self.allow_private and port != 443:
            raise TargetRefused(f"{name} must use the https port (443), not {port}", field=name)
        host = parts.hostname.lower().rstrip(".")
        if not _is_ip(host):
            try:  # each label 1 to 63 characters once encoded, as DNS takes them
                labels = host.encode("idna").split(b".")
            except UnicodeError:
                labels = [b""]
            if not all(0 < len(label) <= 63 for label in labels):
                raise TargetRefused(f"{parts.hostname[:100]!r} is not a host name", field=name)
        return host

    def _public(self, host: str, name: str) -> None:
        if self.allow_private:
            return
        addresses = [host] if _is_ip(host) else self.resolve(host)
        if not addresses:
            raise TargetRefused(f"{host} does not resolve to any address", field=name)
        private = [a for a in addresses if not is_public(a)]
        if private:
            raise TargetRefused(
                f"{host} resolves to a private address ({private[0]}); set {SETTING}=1 to allow it", field=name
            )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def outbound_session(
    allow_private: bool | None = None, *, trusted: str | None = None, **options: Any
) -> aiohttp.ClientSession:
    """An aiohttp session for requests to platforms and webhook endpoints. Unless private
    targets are allowed, every connection is checked where it goes: a name that resolves to a
    private address, or a literal private address, is refused as a connect error. `trusted`
    is a URL the operator gave on the command line (the generic simulator of
    `--platform-url`): its host is exempt.

    No cookie is kept: one session serves every workspace's accounts and webhook endpoints,
    so a cookie from one tenant's answer would ride on the next tenant's request to that
    host. Platforms' APIs take the token, never a cookie."""
    options.setdefault("cookie_jar", aiohttp.DummyCookieJar())
    allowed = private_allowed() if allow_private is None else allow_private
    if allowed:
        return aiohttp.ClientSession(**options)
    exempt = {urlsplit(trusted).hostname or ""} if trusted else set()
    connector = aiohttp.TCPConnector(resolver=PublicResolver(exempt))
    return aiohttp.ClientSession(connector=connector, middlewares=(LiteralAddressGuard(exempt),), **options)


class LiteralAddressGuard:
    """A client middleware refusing a request (and each redirect) to a literal private
    address, which the resolver never sees. A middleware rather than a request trace: a
    trace makes aiohttp call its hooks at every stage of every request (200 against 123-140 µs
    of CPU per request, `scripts/bench_http.py`), and the verdict on a host never changes, so
    it is kept."""

    def __init__(self, exempt: set[str]) -> None:
        self.verdicts: dict[str, bool] = dict.fromkeys(exempt, True)

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        host = (request.url.host or "").strip("[]")
        allowed = self.verdicts.get(host)
        if allowed is None:
            if len(self.verdicts) > 4096:  # webhook hosts are the users': keep the memory bounded
                self.verdicts.clear()
            allowed = self.verdicts[host] = not _is_ip(host) or is_public(host)
        if not allowed:
            raise PrivateAddressRefused(f"{host} is a private address; set {SETTING}=1 to allow it")
        return await handler(request)


class PrivateAddressRefused(aiohttp.ClientConnectionError):
    """Nothing was sent: the request's address is private (a connect error, for the outcome table)."""


class PublicResolver(AbstractResolver):
    """aiohttp's resolver, keeping only public addresses (checked at each connection)."""

    def __init__(self, exempt: set[str] | None = None) -> None:
        self._inner = DefaultResolver()
        self.exempt = exempt or set()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if host in self.exempt:
            return found
        public = [entry for entry in found if is_public(str(entry["host"]))]
        if not public:
            raise OSError(f"{host} resolves only to private addresses; set {SETTING}=1 to allow them")
        return public

    async def close(self) -> None:
        await self._inner.close()
