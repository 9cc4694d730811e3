"""What every source hands the harvest engine: records, in batches, with a resume cursor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mediumnet.config import HarvestConfig
    from mediumnet.harvest.http import HttpClient, RateLimiter
    from mediumnet.harvest.store import HarvestStore


@dataclass
class Record:
    """One work as a source describes it, before the engine judges it.

    ``drop_reason`` is set by the source when the record is out before any labelling (not
    public domain, no image, not found); ``label`` is set by sources that know the medium
    outright (a local folder); otherwise :func:`mediumnet.labels.map_record` decides.
    ``unlabelled_reason`` is set by a source that knows the work but not its medium (a
    folder row with an empty label, or one naming no medium or two): kept unlabelled with
    ``--keep-unlabelled``.
    """

    id: str
    source: str
    category: str = ""
    medium_text: str = ""
    title: str = ""
    artist: str = ""
    date: str = ""
    image_url: str = ""
    rights: str = ""
    label: str | None = None
    label_reason: str = ""
    drop_reason: str | None = None
    unlabelled_reason: str = ""
    depth_ratio: float | None = None
    local_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Source:
    """A collection to harvest.

    Subclasses set the class attributes and implement :meth:`batches`; :meth:`open`,
    :meth:`enrich` and :meth:`fetch_image` have defaults.
    """

    name: ClassVar[str] = ""
    api_rate: ClassVar[float] = 1.0
    """Polite default API requests per second."""
    image_rate: ClassVar[float] = 1.0
    """Polite default image downloads per second."""
    retry_statuses: ClassVar[frozenset[int] | None] = None
    """Statuses to retry (None: 429 and 5xx)."""
    extra_headers: ClassVar[dict[str, str]] = {}
    notes: list[str]
    """What the source left out on opening, one line each (set by :meth:`open`), printed and
    saved with the harvest's summary."""

    client: HttpClient
    store: HarvestStore
    settings: HarvestConfig
    image_limiter: RateLimiter
    fresh_listing: bool = True
    """Set by the engine: True when the listing starts from the beginning (a first harvest,
    or one that looks for works added since), False when it resumes an interrupted one."""

    def bind(self, client: HttpClient, store: HarvestStore, settings: HarvestConfig,
             image_limiter: RateLimiter) -> None:
        """Give the source its HTTP client, store and settings (done by the engine)."""
        self.client = client
        self.store = store
        self.settings = settings
        self.image_limiter = image_limiter
        self.notes = []

    def params(self) -> dict[str, Any]:
        """Return what to log as MLflow params (never a secret)."""
        return {}

    def check_destination(self, root: Path) -> None:
        """Refuse, in one line, a data set folder the source cannot fill (any, for an API)."""

    def open(self) -> None:
        """Check the source answers and authenticate; raise a one-line error if not."""

    def gone(self) -> list[str]:
        """Return the ids of works kept before that the source no longer holds (after open).

        Only a folder can tell: a museum's listing that lacks a work may be filtered or cut
        short, so an API source returns none.
        """
        return []

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        """Yield ``(records, cursor_after)`` from ``cursor`` (None: the beginning).

        ``cursor_after`` is None when the listing is exhausted.
        """
        raise NotImplementedError

    def records_from_raw(self, entries: list[dict[str, Any]]) -> Iterator[Record]:
        """Rebuild records from the raw log (``raw/<source>.jsonl``), with no network.

        ``entries`` are the logged answers, oldest first; a record seen twice (a page fetched
        again after a resume) is yielded once.
        """
        raise NotImplementedError

    def enrich(self, record: Record) -> None:
        """Add what needs one more request per record (artist, genes), for kept ones only."""

    def get_document(self, url: str, *, what: str, api_name: str,
                     params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON document that must be there; one clear error if it is not.

        Raises
        ------
        MediumnetError
            When the API does not answer at all (``api_name`` and ``--api-url`` named).
        HarvestHttpError
            When it answers with another status than 200, or not with a JSON object.
        """
        from mediumnet.errors import MediumnetError
        from mediumnet.harvest.http import ApiUnreachableError, HarvestHttpError

        try:
            status, body = self.client.get_json(url, params=params)
        except ApiUnreachableError:
            raise MediumnetError(f"the {api_name} at {getattr(self, 'api_url', url)} does not "
                                 "answer: check --api-url and your connection") from None
        if status != 200 or not isinstance(body, dict):
            raise HarvestHttpError(f"the {api_name} answered HTTP {status} for {what}: check "
                                   "--api-url, or run the harvest again later to resume",
                                   status=status)
        return body

    def fetch_image(self, record: Record) -> bytes:
        """Return the image bytes of ``record``."""
        return self.client.download(record.image_url, max_bytes=self.settings.max_image_bytes,
                                    limiter=self.image_limiter)


def depth_ratio(depth: Any, *sides: Any) -> float | None:
    """Depth relative to the larger of the other sides, or None when not measurable."""
    try:
        d = float(depth) if depth not in (None, "") else None
        largest = max(float(s) for s in sides if s not in (None, ""))
    except (TypeError, ValueError):
        return None
    if d is None or largest <= 0:
        return None
    return d / largest
