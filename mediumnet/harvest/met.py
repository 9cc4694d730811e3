"""The Metropolitan Museum of Art Collection API (open, no key).

``GET {root}/objects`` lists object ids (optionally by department); each object is one more
request. Only public-domain works with a primary image are kept. Its firewall answers 403 to
clients that go too fast, so 403 is retried with back-off like 429.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from mediumnet.harvest.base import Record, Source, depth_ratio
from mediumnet.harvest.http import RETRY_STATUSES, HarvestHttpError
from mediumnet.harvest.store import write_json_atomic
from mediumnet.labels import repair_text

DEFAULT_API_URL = "https://collectionapi.metmuseum.org/public/collection/v1"


class MetSource(Source):
    """Harvest public-domain objects from the Met.

    Parameters
    ----------
    api_url : str, optional
        API root (default the public one).
    department_ids : sequence of int, optional
        Only these departments (e.g. 9 Drawings and Prints, 11 European Paintings,
        19 Photographs).
    """

    name = "met"
    api_rate = 3.0
    image_rate = 3.0
    retry_statuses = RETRY_STATUSES | {403}

    def __init__(self, api_url: str | None = None,
                 department_ids: Sequence[int] | None = None) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.department_ids = list(department_ids or [])

    def params(self) -> dict[str, Any]:
        return {"api_url": self.api_url,
                "department_ids": ",".join(map(str, self.department_ids)) or "all"}

    def _object_ids(self) -> list[int]:
        """Return the object ids: asked anew on a fresh listing, else from the dataset folder."""
        query = {"departmentIds": "|".join(map(str, self.department_ids))} \
            if self.department_ids else {}
        cache = self.store.raw_dir / "met-objects.json"
        if cache.exists() and not self.fresh_listing:  # a resumed listing keeps its list
            saved = json.loads(cache.read_text())
            if saved.get("query") == query and saved.get("api_url") == self.api_url:
                return saved["objectIDs"]
        body = self.get_document(f"{self.api_url}/objects", params=query,
                                 what="its object list", api_name="Met API")
        ids = [int(i) for i in (body.get("objectIDs") or [])]
        write_json_atomic(cache, {"api_url": self.api_url, "query": query, "objectIDs": ids,
                                  "total": body.get("total")})
        return ids

    def open(self) -> None:
        self._ids = self._object_ids()

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        start = int(cursor or 0)
        size = self.settings.page_size
        for first in range(start, len(self._ids), size):
            # Objects already settled by an earlier harvest are not asked for again.
            records = [Record(id=f"met:{i}", source=self.name)
                       if self.store.is_final(f"met:{i}") else self._fetch(i)
                       for i in self._ids[first:first + size]]
            after = first + size
            yield records, (after if after < len(self._ids) else None)

    def records_from_raw(self, entries: list[dict[str, Any]]) -> Iterator[Record]:
        seen: set[str] = set()
        for entry in entries:
            if entry["kind"] != "object":
                continue
            body = entry["body"]
            if isinstance(body, dict) and body.get("objectID") is not None:
                record = self.parse(body)
            else:
                object_id = entry["url"].rstrip("/").rsplit("/", 1)[-1]
                record = Record(id=f"met:{object_id}", source=self.name,
                                drop_reason="not_found")
            if record.id not in seen:
                seen.add(record.id)
                yield record

    def _fetch(self, object_id: int) -> Record:
        url = f"{self.api_url}/objects/{object_id}"
        status, body = self.client.get_json(url)
        if status == 404:
            self.store.append_raw("object", url, body)
            return Record(id=f"met:{object_id}", source=self.name, drop_reason="not_found")
        if status != 200 or not isinstance(body, dict):
            raise HarvestHttpError(f"the Met API answered HTTP {status} for object {object_id}: "
                                   "run the harvest again later to resume", status=status)
        self.store.append_raw("object", url, body)
        return self.parse(body)

    def parse(self, obj: dict[str, Any]) -> Record:
        """Turn one object into a :class:`Record`."""
        record = Record(
            id=f"met:{obj.get('objectID')}",
            source=self.name,
            category=repair_text(obj.get("classification")),
            medium_text=repair_text(obj.get("medium")),
            title=repair_text(obj.get("title")),
            artist=repair_text(obj.get("artistDisplayName")),
            date=repair_text(obj.get("objectDate")),
            image_url=obj.get("primaryImage") or "",
            rights="Public Domain (Met Open Access, CC0)" if obj.get("isPublicDomain") else "",
        )
        for measurement in obj.get("measurements") or []:
            sizes = (measurement or {}).get("elementMeasurements") or {}
            if "Depth" in sizes:
                record.depth_ratio = depth_ratio(sizes.get("Depth"), sizes.get("Height"),
                                                 sizes.get("Width"))
                break
        if not obj.get("isPublicDomain"):
            record.drop_reason = "not_public_domain"
        elif not record.image_url:
            record.drop_reason = "no_image"
        return record
