"""Harvest throughput: is a harvest bounded by the configured rate limit, not by the client?

Serves 1,000 AIC-shaped records with 1,000 small JPEGs from a loopback server (in its own
process, so that it does not share the client's interpreter lock), harvests them once with a
rate limit and once with the limit lifted, and prints both rates and their ratios, measured in
this one run.

    .venv/bin/python bench/harvest_throughput.py [--records 1000] [--rate 100]
"""

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.config import HarvestConfig  # noqa: E402
from mediumnet.harvest.artic import ArticSource  # noqa: E402
from mediumnet.harvest.engine import harvest  # noqa: E402
from tests.integration.fakeapis import FakeApis, aic_artwork, serve_aic_pages  # noqa: E402

KINDS = [("Painting", "Oil on canvas"), ("Print", "Etching"),
         ("Drawing and Watercolor", "Graphite on paper"),
         ("Drawing and Watercolor", "Watercolor on paper"), ("Photograph", "Gelatin silver print")]


def serve(records: int, conn) -> None:
    """Run the loopback server until told to stop (in a child process)."""
    server = FakeApis().start()
    items = [aic_artwork(server, i, *KINDS[i % len(KINDS)]) for i in range(records)]
    serve_aic_pages(server, items, page_size=100)
    conn.send(server.base)
    conn.recv()
    server.stop()


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
