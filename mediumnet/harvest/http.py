"""The HTTP layer every harvester shares: rate limit, retries with back-off, size-capped reads.

Built on ``requests`` (connection pooling, streaming, proxies and TLS done right) with what
polite harvesting adds on top: a client-side rate limit shared by all threads, retries with
exponential back-off and full jitter on 429, 5xx, timeouts and connection resets, honouring
``Retry-After``, and a User-Agent that names mediumnet. Secrets never pass through here in a
form that could be logged: error messages carry the URL path only, never headers or bodies.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from mediumnet.errors import MediumnetError
from mediumnet.serving.downloads import TooLargeError as CapExceeded
from mediumnet.serving.downloads import read_capped
from mediumnet.version import __version__

USER_AGENT = (f"mediumnet/{__version__} (artwork medium classifier; "
              "https://pypi.org/project/mediumnet/)")
"""Sent with every request: the AIC asks scrapers to name their project."""

RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


class HarvestHttpError(MediumnetError):
    """A request failed for good (after retries, or with a status that is not retried)."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class ApiUnreachableError(HarvestHttpError):
    """No server answered at all (connection refused, unknown host)."""


class TooLargeError(HarvestHttpError):
    """A body exceeded the size cap."""


def _safe_url(url: str) -> str:
    """Drop the query string: queries can hold keys, and are noise in a message."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class RateLimiter:
    """Spaces calls at least ``1 / rate`` seconds apart, across threads.

    Parameters
    ----------
    rate : float
        Calls per second; 0 or less means no limit.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            time.sleep(delay)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpClient:
    """A polite HTTP client for one source.

    Parameters
    ----------
    rate : float
        API requests per second (0: unlimited).
    retries : int
        Retries of one request on a retryable failure.
    backoff, max_backoff : float
        First delay and cap, in seconds, of the exponential back-off with full jitter.
    timeout : float
        Connect and read timeout in seconds.
    retry_statuses : set of int, optional
        Statuses that are retried (default 429 and 5xx; the Met adds 403, which its firewall
        sends when it wants a client to slow down).
    headers : mapping, optional
        Headers sent with every request.
    """

    def __init__(self, *, rate: float, retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 60.0, timeout: float = 30.0,
                 retry_statuses: frozenset[int] | set[int] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.limiter = RateLimiter(rate)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.retry_statuses = frozenset(retry_statuses or RETRY_STATUSES)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        self.retried = 0
        self._rng = random.Random()

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        hinted = (retry_after_seconds(response.headers.get("Retry-After"))
                  if response is not None else None)
        if hinted is not None:
            return min(hinted, self.max_backoff)
        return self._rng.uniform(0, min(self.max_backoff, self.backoff * 2 ** attempt))

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, stream: bool = False,
                limiter: RateLimiter | None = None) -> requests.Response:
        """Send a request, retrying what is worth retrying; return the final response.

        Statuses outside the retry set (200, 401, 404, …) are returned for the caller to
        judge. A response that is still retryable after the last try is returned as well.

        Raises
        ------
        ApiUnreachableError
            When the connection is refused or the host is unknown (after one more try).
        HarvestHttpError
            When timeouts or connection resets persist through every retry.
        """
        limiter = limiter or self.limiter
        attempt = 0
        while True:
            limiter.wait()
            response = None
            try:
                response = self.session.request(method, url, params=params, data=data,
                                                headers=headers, stream=stream,
                                                timeout=self.timeout)
            except requests.ConnectionError as exc:
                refused = _is_refused(exc)
                if attempt >= (min(1, self.retries) if refused else self.retries):
                    kind = ApiUnreachableError if refused else HarvestHttpError
                    why = "connection refused or unknown host" if refused else "connection lost"
                    raise kind(f"no answer from {_safe_url(url)} ({why})", url=url) from None
            except requests.Timeout:
                if attempt >= self.retries:
                    raise HarvestHttpError(f"{_safe_url(url)} timed out {attempt + 1} times",
                                           url=url) from None
            else:
                if response.status_code not in self.retry_statuses or attempt >= self.retries:
                    return response
                response.close()
            time.sleep(self._delay(attempt, response))
            attempt += 1
            self.retried += 1

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """GET a JSON document; return ``(status, parsed body or None)``."""
        response = self.request("GET", url, params=params, headers=headers)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    def download(self, url: str, *, max_bytes: int,
                 limiter: RateLimiter | None = None) -> bytes:
        """Download a body streamed, refusing it once it exceeds ``max_bytes``.

        Raises
        ------
        TooLargeError
            When the declared or received size exceeds ``max_bytes``.
        HarvestHttpError
            On a non-200 status after retries, or a connection that broke mid-body.
        """
        response = self.request("GET", url, stream=True, limiter=limiter)
        with response:
            if response.status_code != 200:
                raise HarvestHttpError(f"HTTP {response.status_code} for {_safe_url(url)}",
                                       status=response.status_code, url=url)
            try:
                return read_capped(response, max_bytes, name=_safe_url(url))
            except CapExceeded as exc:
                raise TooLargeError(str(exc), url=url) from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                raise HarvestHttpError(f"connection lost while reading {_safe_url(url)}",
                                       url=url) from None


def _is_refused(exc: requests.ConnectionError) -> bool:
    text = repr(exc).lower()
    return any(s in text for s in ("connection refused", "errno 111", "name or service not known",
                                   "nodename nor servname", "failed to resolve",
                                   "temporary failure in name resolution",
                                   "getaddrinfo failed"))
