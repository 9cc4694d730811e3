"""The Art Institute of Chicago API (open, no key).

Paged listing with ``fields=`` (at most 100 a page), images from the IIIF server named in each
answer's ``config.iiif_url``, public-domain works only. The AIC asks for one request per second
from one thread and a User-Agent that names the project: both are the defaults here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from mediumnet.harvest.base import Record, Source, depth_ratio
from mediumnet.harvest.http import USER_AGENT
from mediumnet.labels import repair_text

DEFAULT_API_URL = "https://api.artic.edu/api/v1"
DEFAULT_IIIF_URL = "https://www.artic.edu/iiif/2"
FIELDS = ("id", "title", "artist_title", "artist_display", "artwork_type_title",
          "medium_display", "classification_titles", "image_id", "is_public_domain",
          "date_display", "dimensions_detail", "credit_line")


class ArticSource(Source):
    """Harvest public-domain artworks from the Art Institute of Chicago.

    Parameters
    ----------
    api_url : str, optional
        API root (default the public one).
    image_width : int
        Width asked of the IIIF server (843 is the documented size; 1686 exists for
        public-domain works and keeps more texture).
    """

    name = "artic"
    api_rate = 1.0
    image_rate = 1.0
    extra_headers = {"AIC-User-Agent": USER_AGENT}

    def __init__(self, api_url: str | None = None, image_width: int = 1686) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.image_width = image_width

    def params(self) -> dict[str, Any]:
        return {"api_url": self.api_url, "image_width": self.image_width}

    def _page_url(self, page: int) -> str:
        query = {"page": page, "limit": min(100, self.settings.page_size),
                 "fields": ",".join(FIELDS)}
        return f"{self.api_url}/artworks?{urlencode(query)}"

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        page = int(cursor or 1)
        while True:
            url = self._page_url(page)
            body = self.get_document(url, what=f"page {page}",
                                     api_name="Art Institute of Chicago API")
            self.store.append_raw("artworks", url, body)
            iiif = ((body.get("config") or {}).get("iiif_url")) or DEFAULT_IIIF_URL
            data = body.get("data") or []
            records = [self.parse(item, iiif) for item in data if isinstance(item, dict)
                       and item.get("id") is not None]
            pagination = body.get("pagination") or {}
            total_pages = int(pagination.get("total_pages") or 0)
            done = not data or page >= total_pages
            yield records, None if done else page + 1
            if done:
                return
            page += 1

    def records_from_raw(self, entries: list[dict[str, Any]]) -> Iterator[Record]:
        seen: set[str] = set()
        for entry in entries:
            if entry["kind"] != "artworks":
                continue
            body = entry["body"] or {}
            iiif = ((body.get("config") or {}).get("iiif_url")) or DEFAULT_IIIF_URL
            for item in body.get("data") or []:
                if isinstance(item, dict) and item.get("id") is not None:
                    record = self.parse(item, iiif)
                    if record.id not in seen:
                        seen.add(record.id)
                        yield record

    def parse(self, item: dict[str, Any], iiif_url: str = DEFAULT_IIIF_URL) -> Record:
        """Turn one artwork of a listing page into a :class:`Record`."""
        artist = item.get("artist_title") or (item.get("artist_display") or "").split("\n")[0]
        record = Record(
            id=f"artic:{item['id']}",
            source=self.name,
            category=repair_text(item.get("artwork_type_title")),
            medium_text=repair_text(item.get("medium_display")),
            title=repair_text(item.get("title")),
            artist=repair_text(artist),
            date=repair_text(item.get("date_display")),
            rights="Public Domain (Art Institute of Chicago, CC0)"
            if item.get("is_public_domain") else "",
        )
        for dims in item.get("dimensions_detail") or []:
            ratio = depth_ratio((dims or {}).get("depth"), (dims or {}).get("height"),
                                (dims or {}).get("width"))
            if ratio is not None:
                record.depth_ratio = ratio
                break
        image_id = item.get("image_id")
        if not item.get("is_public_domain"):
            record.drop_reason = "not_public_domain"
        elif not image_id:
            record.drop_reason = "no_image"
        else:
            record.image_url = f"{iiif_url.rstrip('/')}/{image_id}/full/{self.image_width},/0/" \
                               "default.jpg"
        return record
