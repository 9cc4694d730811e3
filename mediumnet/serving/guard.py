"""What a served model may read and fetch for a client: confined paths, no internal URLs, bounds.

A model behind ``mlflow models serve`` answers whoever can reach it, so it is safe by default
and opened up only by the person who deploys it, through the server's environment:

``MEDIUMNET_SERVE_ROOTS``
    Folders (separated by ``:``) whose files ``path`` rows may name; unset, ``path`` rows are
    refused. A path is resolved (``..``, symlinks) before it is checked, and a refusal never
    says whether the file exists.
``MEDIUMNET_SERVE_URLS``
    ``off`` turns ``url`` rows off altogether (default ``on``).
``MEDIUMNET_SERVE_ALLOW_HOSTS``
    Host names (comma-separated) that may be fetched although they resolve to a loopback,
    private, link-local, multicast or reserved address; every other such host is refused
    before any connection, and so is a redirect to one.
``MEDIUMNET_SERVE_MAX_ROWS`` (64), ``MEDIUMNET_SERVE_MAX_PIXELS`` (400,000,000)
    Rows per request (more: HTTP 400) and decoded pixels per request (rows past the budget
    are answered with an error).
``MEDIUMNET_SERVE_DEADLINE`` (30 s)
    All ``url`` rows of a request are fetched in parallel within this many seconds; a row
    still fetching then gets an error, and the others are answered.

In-process use (``mediumnet.load_model(...).predict``, ``mediumnet predict``) is the user
reading their own files and keeps no such limits (:meth:`ServePolicy.local`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from mediumnet.serving.downloads import MAX_IMAGE_BYTES

ENV_ROOTS = "MEDIUMNET_SERVE_ROOTS"
ENV_URLS = "MEDIUMNET_SERVE_URLS"
ENV_ALLOW_HOSTS = "MEDIUMNET_SERVE_ALLOW_HOSTS"
ENV_MAX_ROWS = "MEDIUMNET_SERVE_MAX_ROWS"
ENV_MAX_PIXELS = "MEDIUMNET_SERVE_MAX_PIXELS"
ENV_DEADLINE = "MEDIUMNET_SERVE_DEADLINE"
MAX_REDIRECTS = 5
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0

PATH_REFUSED = (f"path refused: only files under the folders in {ENV_ROOTS} can be read by "
                "this server; send the image's bytes in the image column instead")


class RefusedError(ValueError):
    """A row the policy does not allow; the message names the rule, never what lies behind."""


@dataclass(frozen=True)
class ServePolicy:
    """The limits one request is answered under."""

    roots: tuple[Path, ...] | None = None
    """Folders ``path`` rows may read (resolved); None: any path (in-process use)."""
    urls: bool = True
    guard_addresses: bool = False
    """Refuse hosts that resolve to internal addresses (unless in ``allow_hosts``)."""
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    max_rows: int | None = None
    max_pixels: int | None = None
    deadline: float | None = None
    max_bytes: int = MAX_IMAGE_BYTES

    @classmethod
    def local(cls) -> ServePolicy:
        """No limits: the user reads their own files in their own process."""
        return cls()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServePolicy:
        """Build the served model's policy: safe defaults, opened by the server's environment.

        Raises
        ------
        ValueError
            If a number in the environment is not a positive number (named).
        """
        env = os.environ if env is None else env
        roots = tuple(Path(os.path.realpath(p)) for p in env.get(ENV_ROOTS, "").split(
            os.pathsep) if p.strip())
        hosts = frozenset(h.strip().lower() for h in env.get(ENV_ALLOW_HOSTS, "").split(",")
                          if h.strip())
        return cls(roots=roots, urls=env.get(ENV_URLS, "on").strip().lower() not in (
                       "off", "0", "false", "no"),
                   guard_addresses=True, allow_hosts=hosts,
                   max_rows=int(_positive(env, ENV_MAX_ROWS, 64)),
                   max_pixels=int(_positive(env, ENV_MAX_PIXELS, 400_000_000)),
                   deadline=_positive(env, ENV_DEADLINE, 30.0))

    def check_path(self, value: str) -> str:
        """Return the path to read, or raise RefusedError (same words, file or not)."""
        if self.roots is None:
            return value
        real = Path(os.path.realpath(value))
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            raise RefusedError(PATH_REFUSED)
        return str(real)

    def check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s), or whose host resolves to an internal address.

        Raises
        ------
        RefusedError
            Naming the rule that refused it.
        """
        if not self.urls:
            raise RefusedError(f"url refused: this server fetches no URLs ({ENV_URLS}=off); send "
                          "the image's bytes in the image column instead")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise RefusedError(f"{url}: only http(s) URLs can be fetched")
        host = parts.hostname.lower()
        if not self.guard_addresses or host in self.allow_hosts:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise RefusedError(f"{url}: the host name does not resolve") from None
        for info in infos:
            address = _embedded_ipv4(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
            if not address.is_global or address.is_multicast:
                raise RefusedError(f"url refused: {host} is an internal address (loopback, "
                              "private, link-local, multicast or reserved); this server "
                              f"fetches it only if {ENV_ALLOW_HOSTS} names it")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """Return the IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"{name}={text!r}: give a positive number")
    return value


def fetch(url: str, session, policy: ServePolicy, deadline: float | None = None) -> bytes:
    """GET an image under the policy: every hop checked, size capped, within the deadline.

    Parameters
    ----------
    url : str
    session : requests.Session
    policy : ServePolicy
    deadline : float, optional
        A ``time.monotonic()`` instant after which the fetch gives up.

    Raises
    ------
    RefusedError
        A URL or redirect the policy refuses.
    ValueError
        HTTP errors, too many redirects, too large, too slow, unreachable (one line each).
    """
    import requests

    from mediumnet.serving.downloads import TooLargeError, read_capped

    for _ in range(MAX_REDIRECTS + 1):
        policy.check_url(url)
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise ValueError(f"{url}: not fetched within the request's deadline")
        timeout = (min(CONNECT_TIMEOUT, left or CONNECT_TIMEOUT),
                   min(READ_TIMEOUT, left or READ_TIMEOUT))
        try:
            with session.get(url, timeout=timeout, stream=True,
                             allow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise ValueError(f"{url}: HTTP {response.status_code}")
                return read_capped(response, policy.max_bytes, name=url, deadline=deadline)
        except TooLargeError:
            raise ValueError(f"{url}: larger than {policy.max_bytes:,} bytes") from None
        except TimeoutError:
            raise ValueError(f"{url}: not fetched within the request's deadline") from None
        except requests.Timeout:
            if deadline is not None and time.monotonic() >= deadline - 0.1:
                raise ValueError(f"{url}: not fetched within the request's deadline") from None
            raise ValueError(f"{url}: the server did not answer in time") from None
        except requests.RequestException as exc:
            raise ValueError(f"{url}: could not fetch ({type(exc).__name__})") from None
    raise ValueError(f"{url}: more than {MAX_REDIRECTS} redirects")
