"""Artsy public API (the research's source). Retired for new clients in 2025.

Token flow: ``POST {root}/tokens/xapp_token`` with the client id and secret gives an xapp token
sent as ``X-Xapp-Token``; a 401 on a data call fetches a new token once. Listing pages are
followed by ``_links.next.href``; the image comes from the templated ``_links.image.href``
with the best version the artwork has. The secret and the token are never logged or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from mediumnet.errors import MediumnetError
from mediumnet.harvest.base import Record, Source, depth_ratio
from mediumnet.harvest.http import ApiUnreachableError, HarvestHttpError
from mediumnet.labels import repair_text

DEFAULT_API_URL = "https://api.artsy.net/api"
IMAGE_PREFERENCE: tuple[str, ...] = ("normalized", "larger", "large", "medium")
"""Image versions, best first (normalized is the largest, about 2400 px)."""
ACCEPT = {"Accept": "application/vnd.artsy-v2+json"}
RETIRED = ("the Artsy API at {url} is gone ({why}): Artsy retired its public API in 2025; "
           "harvest the Met (mediumnet harvest met), the Art Institute of Chicago "
           "(mediumnet harvest artic) or your own images (mediumnet harvest folder) instead")


class ArtsyAuthError(MediumnetError):
    """Artsy refused the credentials."""


class ArtsyRetiredError(MediumnetError):
    """The Artsy API no longer answers."""


def best_image_version(versions: list[str] | None) -> str | None:
    """Return the best version in :data:`IMAGE_PREFERENCE` that ``versions`` offers."""
    offered = set(versions or [])
    return next((v for v in IMAGE_PREFERENCE if v in offered), None)


class ArtsySource(Source):
    """Harvest artworks from the Artsy API.

    Parameters
    ----------
    api_url : str
        API root (default the public one).
    client_id, client_secret : str, optional
        Credentials; default ``ARTSY_CLIENT_ID`` / ``ARTSY_CLIENT_SECRET``.
    image_version : str, optional
        Ask for this image version; works without it are dropped (``image_version_missing``).
        Default: the best available.
    genes : bool
        Fetch each kept artwork's genes (one more request each) into the raw log.
    artists : bool
        Fetch each kept artwork's artist name (one more request each), needed for grouped
        splits; without it artworks have no artist.
    """

    name = "artsy"
    api_rate = 5.0
    image_rate = 10.0

    def __init__(self, api_url: str | None = None, client_id: str | None = None,
                 client_secret: str | None = None, image_version: str | None = None,
                 genes: bool = False, artists: bool = True) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._client_id = client_id or os.environ.get("ARTSY_CLIENT_ID", "")
        self._client_secret = client_secret or os.environ.get("ARTSY_CLIENT_SECRET", "")
        self.image_version = image_version
        self.genes = genes
        self.artists = artists

    def params(self) -> dict[str, Any]:
        return {"api_url": self.api_url, "image_version": self.image_version or "best",
                "genes": self.genes, "artists": self.artists}

    # -- authentication ---------------------------------------------------------------------

    def open(self) -> None:
        if not (self._client_id and self._client_secret):
            raise ArtsyAuthError(
                "Artsy needs credentials: pass --client-id and --client-secret or set "
                "ARTSY_CLIENT_ID and ARTSY_CLIENT_SECRET (Artsy creates no new ones since it "
                "retired its API; the met, artic and folder sources need none)")
        try:
            status, _ = self.client.get_json(self.api_url, headers=ACCEPT)
        except ApiUnreachableError:
            raise ArtsyRetiredError(RETIRED.format(url=self.api_url, why="no answer")) from None
        if status in (404, 410):
            raise ArtsyRetiredError(RETIRED.format(url=self.api_url, why=f"HTTP {status}"))
        self._fetch_token()

    def _fetch_token(self) -> None:
        url = f"{self.api_url}/tokens/xapp_token"
        try:
            response = self.client.request(
                "POST", url, data={"client_id": self._client_id,
                                   "client_secret": self._client_secret})
        except ApiUnreachableError:
            raise ArtsyRetiredError(RETIRED.format(url=self.api_url, why="no answer")) from None
        if response.status_code in (401, 403):
            raise ArtsyAuthError(
                f"Artsy refused the client id and secret (HTTP {response.status_code}): check "
                "--client-id/--client-secret or ARTSY_CLIENT_ID/ARTSY_CLIENT_SECRET")
        if response.status_code in (404, 410):
            raise ArtsyRetiredError(RETIRED.format(url=self.api_url,
                                              why=f"HTTP {response.status_code} on the token"))
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError):
            raise HarvestHttpError(f"Artsy's token answer (HTTP {response.status_code}) has no "
                                   "token: try again later", status=response.status_code) from None
        self.client.session.headers["X-Xapp-Token"] = token

    def _get(self, url: str) -> Any:
        """GET a JSON document; on 401 fetch a new token once and try again."""
        status, body = self.client.get_json(url, headers=ACCEPT)
        if status == 401:
            self._fetch_token()
            status, body = self.client.get_json(url, headers=ACCEPT)
            if status == 401:
                raise ArtsyAuthError("Artsy refused a fresh token (HTTP 401): check that your "
                                     "client id and secret are still valid")
        if status in (404, 410) and url.startswith(f"{self.api_url}/artworks"):
            raise ArtsyRetiredError(RETIRED.format(url=self.api_url, why=f"HTTP {status}"))
        if status != 200 or not isinstance(body, dict):
            raise HarvestHttpError(f"Artsy answered HTTP {status} for {url.split('?')[0]}: "
                                   "run the harvest again later to resume", status=status)
        return body

    # -- listing ---------------------------------------------------------------------------

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        url = cursor or (f"{self.api_url}/artworks?"
                         + urlencode({"size": self.settings.page_size}))
        while url:
            body = self._get(url)
            self.store.append_raw("artworks", url, body)
            artworks = ((body.get("_embedded") or {}).get("artworks")) or []
            records = [self.parse(a) for a in artworks if isinstance(a, dict) and a.get("id")]
            url = (((body.get("_links") or {}).get("next") or {}).get("href")) or None
            if not artworks:
                url = None
            yield records, url

    def parse(self, artwork: dict[str, Any]) -> Record:
        """Turn one artwork of a listing page into a :class:`Record` (tolerant of nulls)."""
        links = artwork.get("_links") or {}
        record = Record(
            id=f"artsy:{artwork['id']}",
            source=self.name,
            category=repair_text(artwork.get("category")),
            medium_text=repair_text(artwork.get("medium")),
            title=repair_text(artwork.get("title")),
            date=repair_text(artwork.get("date")),
            rights=repair_text(artwork.get("image_rights")),
            extra={"artists_href": (links.get("artists") or {}).get("href"),
                   "genes_href": (links.get("genes") or {}).get("href")},
        )
        cm = ((artwork.get("dimensions") or {}).get("cm")) or {}
        record.depth_ratio = depth_ratio(cm.get("depth"), cm.get("height"), cm.get("width"))
        href = (links.get("image") or {}).get("href")
        versions = artwork.get("image_versions") or []
        if not href:
            record.drop_reason = "no_image"
        elif self.image_version:
            if self.image_version in versions:
                record.image_url = href.replace("{image_version}", self.image_version)
            else:
                record.drop_reason = "image_version_missing"
        else:
            version = best_image_version(versions)
            if version is None:
                record.drop_reason = "no_image"
            else:
                record.image_url = href.replace("{image_version}", version)
        return record

    def records_from_raw(self, entries: list[dict[str, Any]]) -> Iterator[Record]:
        artists = {e["url"]: e["body"] for e in entries if e["kind"] == "artists"}
        seen: set[str] = set()
        for entry in entries:
            if entry["kind"] != "artworks":
                continue
            for artwork in ((entry["body"].get("_embedded") or {}).get("artworks")) or []:
                if not isinstance(artwork, dict) or not artwork.get("id"):
                    continue
                record = self.parse(artwork)
                if record.id in seen:
                    continue
                seen.add(record.id)
                body = artists.get(record.extra.get("artists_href") or "")
                if body:
                    record.artist = "; ".join(
                        repair_text(a.get("name"))
                        for a in ((body.get("_embedded") or {}).get("artists")) or []
                        if a.get("name"))
                yield record

    def enrich(self, record: Record) -> None:
        if self.artists and record.extra.get("artists_href"):
            body = self._get(record.extra["artists_href"])
            self.store.append_raw("artists", record.extra["artists_href"], body)
            artists = ((body.get("_embedded") or {}).get("artists")) or []
            names = [repair_text(a.get("name")) for a in artists if a.get("name")]
            record.artist = "; ".join(names)
        if self.genes and record.extra.get("genes_href"):
            url = record.extra["genes_href"]
            while url:
                body = self._get(url)
                self.store.append_raw("genes", url, body)
                url = (((body.get("_links") or {}).get("next") or {}).get("href")) or None
                if not ((body.get("_embedded") or {}).get("genes")):
                    url = None
