"""A real HTTP server on 127.0.0.1 that answers like Artsy, the Met and the AIC.

Responses are built from the verbatim API examples in tests/fixtures/api/, with links pointed
at this server and images generated here. Tests queue faults (429 with Retry-After, 5xx,
connection resets, slow answers, 401) and read the request log with timestamps.
"""

from __future__ import annotations

import copy
import io
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from tests.conftest import FIXTURES

API = FIXTURES / "api"
TOKEN = "xapp-token-SECRET-5f1e2d"
CLIENT_ID = "client-id-42"
CLIENT_SECRET = "client-secret-VERY-SECRET-9c8b7a"


def make_jpeg(seed: int, size: tuple[int, int] = (96, 72), quality: int = 90) -> bytes:
    """A small JPEG whose picture (not only bytes) differs from every other seed's."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize(size, Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@dataclass
class Logged:
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApis:
    """The server and its content. Start with :meth:`start`, stop with :meth:`stop`."""

    routes: dict[str, Any] = field(default_factory=dict)  # path -> JSON body or bytes
    faults: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    log: list[Logged] = field(default_factory=list)
    token_ok: bool = True
    root_status: int = 200
    expire_token_once: bool = False

    def start(self) -> FakeApis:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status, body, ctype="application/json", headers=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.log.append(Logged(time.monotonic(), method, parts.path,
                                         parse_qs(parts.query), dict(self.headers), body))
                queue = server.faults.get(parts.path)
                if queue:
                    fault = queue.popleft()
                    kind = fault[0]
                    if kind == "status":
                        return self._send(fault[1], {"type": "other_error", "message": "x"},
                                          headers=fault[2] if len(fault) > 2 else None)
                    if kind == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        self.connection.close()
                        return None
                    if kind == "sleep":
                        time.sleep(fault[1])
                return server.answer(self, method, parts.path, parse_qs(parts.query), body)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # resets are on purpose
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def requests_to(self, prefix: str) -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith(prefix)]

    # -- answers ---------------------------------------------------------------------------

    def answer(self, handler, method, path, query, body):
        if path == "/artsy/api/tokens/xapp_token" and method == "POST":
            form = parse_qs(body.decode())
            if not self.token_ok or form.get("client_secret") != [CLIENT_SECRET]:
                return handler._send(401, {"type": "auth_error",
                                           "message": "invalid client credentials"})
            return handler._send(201, {"type": "xapp_token", "token": TOKEN,
                                       "expires_at": "2030-01-01T00:00:00.000Z"})
        if path == "/artsy/api":
            return handler._send(self.root_status, {"_links": {}})
        if path.startswith("/artsy/api/"):
            if handler.headers.get("X-Xapp-Token") != TOKEN:
                return handler._send(401, {"type": "auth_error", "message": "no token"})
            if self.expire_token_once and path == "/artsy/api/artworks":
                self.expire_token_once = False
                return handler._send(401, {"type": "auth_error", "message": "expired"})
        key = path
        if path in ("/artsy/api/artworks",):
            key = f"{path}?cursor={query.get('cursor', [''])[0]}"
        if path == "/aic/api/v1/artworks":
            key = f"{path}?page={query.get('page', ['1'])[0]}"
        if path.startswith("/artsy/api/artists") or path.startswith("/artsy/api/genes"):
            key = f"{path}?artwork_id={query.get('artwork_id', [''])[0]}"
        if key not in self.routes:
            return handler._send(404, {"message": "Not a valid object"})
        content = self.routes[key]
        if isinstance(content, bytes):
            return handler._send(200, content, ctype="image/jpeg")
        return handler._send(200, content)


# -- Artsy ---------------------------------------------------------------------------------

def _artsy_templates() -> list[dict]:
    pages = [json.loads((API / n).read_text())["_embedded"]["artworks"] for n in (
        "artsy_artworks_page1_unfiltered_2017-10-24.json",
        "artsy_artworks_page_artist_guillaumin_2018.json")]
    return [a for page in pages for a in page]


ARTSY_KINDS = [
    # (category, medium text, expected label or drop reason)
    ("Painting", "Oil on canvas", "painting"),
    ("Print", "Color lithograph", "engraving"),
    ("Drawing, Collage or other Work on Paper", "Charcoal on laid paper", "drawing"),
    ("Drawing, Collage or other Work on Paper", "Watercolor and graphite on wove paper",
     "gouache_watercolor"),
    ("Photography", "Gelatin silver print", "photography"),
]


def artsy_artwork(server: FakeApis, i: int, category: str, medium: str, *,
                  image: bytes | None = None, versions: list[str] | None = None,
                  has_image: bool = True, depth: float | None = None,
                  title: str | None = None, null_dimensions: bool = False) -> dict:
    """An artwork shaped like the real ones, served by ``server`` with its image."""
    template = copy.deepcopy(_artsy_templates()[i % 7])
    art_id = f"5{i:023x}"
    base = f"{server.base}/artsy/api"
    template.update({"id": art_id, "slug": f"artist-{i}-work-{i}", "category": category,
                     "medium": medium, "title": title or f"Work {i}"})
    template["dimensions"]["cm"].update({"height": 50.0, "width": 40.0, "depth": depth})
    if null_dimensions:  # as in real records: every measure null, text too
        template["dimensions"] = {unit: dict.fromkeys(template["dimensions"][unit])
                                  for unit in ("in", "cm")}
        template.update({"series": None, "unique": None, "date": "", "medium": medium})
    versions = versions or ["large", "larger", "medium", "normalized", "square"]
    template["image_versions"] = versions
    links = template["_links"]
    links["self"]["href"] = f"{base}/artworks/{art_id}"
    links["artists"] = {"href": f"{base}/artists?artwork_id={art_id}"}
    links["genes"] = {"href": f"{base}/genes?artwork_id={art_id}"}
    if has_image:
        links["image"] = {"href": f"{server.base}/cdn/{art_id}/{{image_version}}.jpg",
                          "templated": True}
        for v in versions:
            server.routes[f"/cdn/{art_id}/{v}.jpg"] = image if image is not None else \
                make_jpeg(i)
    else:
        links.pop("image", None)
    server.routes[f"/artsy/api/artists?artwork_id={art_id}"] = {
        "_embedded": {"artists": [{"id": f"a{i % 3}", "name": f"Artist {i % 3}"}]},
        "_links": {}}
    server.routes[f"/artsy/api/genes?artwork_id={art_id}"] = {
        "_embedded": {"genes": [{"id": "g1", "name": "Landscapes", "display_name": None}]},
        "_links": {}}
    return template


def serve_artsy_pages(server: FakeApis, artworks: list[dict], page_size: int) -> None:
    """Serve ``artworks`` as cursor-paged listing pages, next links and all."""
    pages = [artworks[i:i + page_size] for i in range(0, len(artworks), page_size)] or [[]]
    for n, page in enumerate(pages):
        cursor = "" if n == 0 else f"c{n}"
        body = {"total_count": None,
                "_links": {"self": {"href": f"{server.base}/artsy/api/artworks"}},
                "_embedded": {"artworks": page}}
        if n + 1 < len(pages):
            body["_links"]["next"] = {
                "href": f"{server.base}/artsy/api/artworks?cursor=c{n + 1}&size={page_size}"}
        server.routes[f"/artsy/api/artworks?cursor={cursor}"] = body


# -- The Met -------------------------------------------------------------------------------

def met_object(server: FakeApis, object_id: int, classification: str, medium: str, *,
               public: bool = True, image: bytes | None = None, has_image: bool = True,
               depth: float | None = None) -> dict:
    obj = json.loads((API / "met_object_237.json").read_text())
    obj.update({"objectID": object_id, "classification": classification, "medium": medium,
                "isPublicDomain": public, "title": f"Object {object_id}",
                "artistDisplayName": f"Met artist {object_id % 4}"})
    url = f"{server.base}/met/img/{object_id}.jpg" if has_image else ""
    obj["primaryImage"] = url
    obj["primaryImageSmall"] = url
    obj["measurements"] = [{"elementName": "Overall", "elementDescription": None,
                            "elementMeasurements": {"Height": 50.0, "Width": 40.0,
                                                    **({"Depth": depth} if depth else {})}}]
    if has_image:
        server.routes[f"/met/img/{object_id}.jpg"] = image or make_jpeg(10_000 + object_id)
    server.routes[f"/met/v1/objects/{object_id}"] = obj
    return obj


# -- Art Institute of Chicago ----------------------------------------------------------------

def aic_artwork(server: FakeApis, art_id: int, type_title: str, medium: str, *,
                public: bool = True, image: bytes | None = None) -> dict:
    item = json.loads((API / "aic_artwork_82306.json").read_text())["data"]
    item.update({"id": art_id, "artwork_type_title": type_title, "medium_display": medium,
                 "is_public_domain": public, "image_id": f"img-{art_id}",
                 "title": f"AIC {art_id}", "artist_title": f"AIC artist {art_id % 3}"})
    server.routes[f"/iiif/img-{art_id}/full/1686,/0/default.jpg"] = image or make_jpeg(
        20_000 + art_id)
    return item


def serve_aic_pages(server: FakeApis, items: list[dict], page_size: int) -> None:
    pages = [items[i:i + page_size] for i in range(0, len(items), page_size)]
    for n, page in enumerate(pages, start=1):
        server.routes[f"/aic/api/v1/artworks?page={n}"] = {
            "pagination": {"total": len(items), "limit": page_size,
                           "offset": (n - 1) * page_size, "total_pages": len(pages),
                           "current_page": n},
            "data": page,
            "config": {"iiif_url": f"{server.base}/iiif", "website_url": "http://www.artic.edu"},
        }
