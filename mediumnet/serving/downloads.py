"""The one capped download: an HTTP body read streamed, refused once it passes a size cap.

Harvests (through their rate-limited, retrying client) and the served model's ``url`` rows
both read image bodies with :func:`read_capped`, under the same default cap
:data:`MAX_IMAGE_BYTES`, so an image a harvest would keep is never one serving refuses.
"""

from __future__ import annotations

import time
from typing import Any

from mediumnet.errors import MediumnetError

MAX_IMAGE_BYTES = 64_000_000
"""The default cap on one image's bytes, for harvests and for served ``url`` rows."""

CHUNK_BYTES = 256 * 1024


class TooLargeError(MediumnetError):
    """A body declared or delivered more bytes than the cap."""


def read_capped(response: Any, max_bytes: int = MAX_IMAGE_BYTES, *, name: str = "",
                deadline: float | None = None) -> bytes:
    """Read a streamed ``requests`` response body, refusing it past ``max_bytes``.

    Parameters
    ----------
    response : requests.Response
        Opened with ``stream=True``.
    max_bytes : int
        The cap.
    name : str
        How to name the body in the error message (a URL without its query).
    deadline : float, optional
        A ``time.monotonic()`` instant: reading past it raises ``TimeoutError``.

    Raises
    ------
    TooLargeError
        When the declared ``Content-Length`` or the bytes received exceed ``max_bytes``.
    TimeoutError
        When the body is still arriving at ``deadline``.
    requests.RequestException
        When the connection breaks mid-body.
    """
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"{name or 'the body'} is {declared} bytes, over the cap of "
                            f"{max_bytes}")
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise TooLargeError(f"{name or 'the body'} exceeds the cap of {max_bytes} bytes")
        chunks.append(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{name or 'the body'}: still arriving at the deadline")
    return b"".join(chunks)
