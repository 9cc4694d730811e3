"""Harvest throughput: is a harvest bounded by the configured rate limit, not by the client?

Serves 1,000 AIC-shaped records with 1,000 small JPEGs from a loopback server (in its own
process, so that it does not share the client's interpreter lock), harvests them once with a
rate limit and once with the limit lifted, and prints both rates and their ratios, measured in
this one run.

    .venv/bin/python bench/harvest_throughput.py [--records 1000] [--rate 100]
"""

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.config import HarvestConfig  # noqa: E402
from mediumnet.harvest.artic import ArticSource  # noqa: E402
from mediumnet.harvest.engine import harvest  # noqa: E402

KINDS = [("Painting", "Oil on canvas"), ("Print", "Etching"),
         ("Drawing and Watercolor", "Graphite on paper"),
         ("Drawing and Watercolor", "Watercolor on paper"), ("Photograph", "Gelatin silver print")]


def _jpeg(seed: int) -> bytes:
    """A small JPEG whose picture differs from every other seed's (no near-duplicates)."""
    import io

    import numpy as np
    from PIL import Image

    coarse = np.random.default_rng(seed).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(coarse).resize((96, 72), Image.BICUBIC).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class _AicShaped(BaseHTTPRequestHandler):
    """Answers like the Art Institute of Chicago API: listing pages and IIIF images."""

    records = 0
    base = ""
    image = b""

    def do_GET(self):  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        if parts.path == "/aic/api/v1/artworks":
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            first, pages = (page - 1) * 100, -(-self.records // 100)
            data = [{"id": i, "title": f"AIC {i}", "artist_title": f"AIC artist {i % 3}",
                     "artwork_type_title": KINDS[i % len(KINDS)][0],
                     "medium_display": KINDS[i % len(KINDS)][1], "is_public_domain": True,
                     "image_id": f"img-{i}", "date_display": "1890",
                     "dimensions_detail": [{"height": 50, "width": 40}]}
                    for i in range(first, min(first + 100, self.records))]
            body = json.dumps({"pagination": {"total": self.records, "limit": 100,
                                              "offset": first, "total_pages": pages,
                                              "current_page": page},
                               "data": data, "config": {"iiif_url": f"{self.base}/iiif"}})
            self._send(body.encode(), "application/json")
        elif parts.path.startswith("/iiif/img-"):
            number = int(parts.path.split("/")[2].removeprefix("img-"))
            self._send(_jpeg(20_000 + number), "image/jpeg")
        else:
            self.send_error(404)

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(records: int, conn) -> None:
    """Run the loopback server until told to stop (in a child process)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AicShaped)
    _AicShaped.records = records
    _AicShaped.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(_AicShaped.base)
    conn.recv()
    server.shutdown()


def timed_harvest(base: str, rate: float, workers: int) -> tuple[float, int]:
    settings = HarvestConfig(api_rate=rate, image_rate=rate, workers=workers, page_size=100,
                             backoff=0.01)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = harvest(ArticSource(f"{base}/aic/api/v1"), Path(tmp) / "ds", settings,
                         progress=False)
        return time.perf_counter() - started, result.kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve,
                                                          args=(args.records, theirs))
    server.start()
    base = ours.recv()
    requests = args.records + -(-args.records // 100)  # images + listing pages

    import pandas  # noqa: F401  (loaded before timing: both runs then pay the same)

    limited_s, kept = timed_harvest(base, args.rate, args.workers)
    free_s, kept_free = timed_harvest(base, 1e9, args.workers)
    ours.send("stop")
    server.join()

    limited_rate = requests / limited_s
    free_rate = requests / free_s
    print(f"{args.records} records, {requests} requests, {kept}/{kept_free} works kept, "
          f"{args.workers} download threads")
    print(f"rate limit {args.rate:.0f} req/s: {limited_s:.2f} s, {limited_rate:.1f} req/s "
          f"= {limited_rate / args.rate:.2f} of the limit")
    print(f"limit lifted:       {free_s:.2f} s, {free_rate:.1f} req/s "
          f"= {free_rate / args.rate:.1f}x the limit")
    print(f"client headroom: the client alone runs {free_rate / limited_rate:.1f}x faster than "
          "the limited harvest, so the limit, not the client, bounds it")


if __name__ == "__main__":
    main()
