"""Serving speed: the ensemble behind a real `mlflow models serve`, raw JPEGs in.

    .venv/bin/python bench/serve.py [--preset seed] [--requests 20] [--batches 5]
                                    [--set effnet.variant=B0]
    .venv/bin/python bench/serve.py --load 60 [--preset demo] [--clients 16]

With ``--load SECONDS``: the ensemble without the optional branches (EfficientNet) served
with 1 and then 2 uvicorn workers (``mlflow models serve -w``), 16 concurrent clients for that
long, each request a mix of good and bad rows (two 1600x1200 JPEGs, a truncated image, a
refused path, a refused internal URL); every request must be answered with a row per row. It
prints images/s, request latency p50/p95/p99, and each worker's memory growth after a warm-up.

Builds the branch models of a preset (untrained: speed does not depend on the weights; the
embedding branch's backbone is the pretrained one, when installed) and a meta-learner, saves
the stack with and without the optional branches (EfficientNet) and each fitted branch that
can stand alone (features, embedding) as an ensemble of its own, serves each on 127.0.0.1, and
prints the latency p50/p95 of a request with one 3000x2000 JPEG and the images per second of
requests with batches of 16 such JPEGs. Decoding, every view, the features, every branch and
the meta-learner are inside the measurement; so is HTTP and JSON.
"""

import argparse
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.config import load_config  # noqa: E402


def jpeg(width: int, height: int, seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def build(folder: Path, config, optional: bool, only: str = "") -> Path:
    """Save an ensemble of every branch of the registry, untrained, with a meta-learner.

    ``optional``: with the branches that are not always stacked (EfficientNet) too; a fitted
    branch is in when its setting says so (the embedding branch: when its weights are
    installed). ``only``: that one branch alone, as a registered single-branch ensemble.
    """
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from mediumnet.branches import fitted_branches, keras_branches
    from mediumnet.data.decode import decode
    from mediumnet.ensemble.model import save_ensemble
    from mediumnet.labels import MEDIUMS

    rng = np.random.default_rng(0)
    served = []
    for branch in keras_branches():
        if branch.stacking != "always" and not optional:
            continue
        model = branch.build(config)
        settings = branch.preprocessor(config).to_config()
        local = folder / branch.name
        mlflow.keras.save_model(model, str(local), pip_requirements=[],
                                metadata={"mediumnet": settings})
        served.append(branch.serve(model, settings, str(local)))
    probe = decode(jpeg(640, 480, 1))
    for branch in fitted_branches():
        if not branch.enabled(config):
            continue
        width = len(branch.served_from(None, MEDIUMS, config).inputs(probe))
        estimator = LogisticRegression(max_iter=200).fit(rng.normal(size=(50, width)),
                                                         np.arange(50) % 5)
        served.append(branch.served_from(estimator, MEDIUMS, config))
    if only:
        return save_ensemble(folder / "ensemble", [b for b in served if b.name == only], None)
    width = 5 * len(served)   # every branch's probabilities enter the meta-learner
    meta = LogisticRegression(max_iter=200).fit(rng.normal(size=(50, width)),
                                                np.arange(50) % 5)
    return save_ensemble(folder / "ensemble", served, meta)


def post(url: str, images: list[bytes]) -> float:
    body = json.dumps({"dataframe_split": {
        "columns": ["image"], "data": [[base64.b64encode(b).decode()] for b in images]}})
    request = urllib.request.Request(f"{url}/invocations", body.encode(),
                                     {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
    seconds = time.perf_counter() - start
    assert all(row["error"] is None for row in answer["predictions"]), answer
    return seconds


def serve(model_dir: Path, workers: int = 1):
    bin_dir = Path(sys.executable).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir),
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                             "-w", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2):
                return proc, url
        except OSError:
            time.sleep(1)
    raise SystemExit("the server did not start")


def _tree_rss(pid: int) -> dict[int, int]:
    """Resident memory of the processes that hold the model (the biggest of the server tree).

    ``mlflow models serve`` runs uvicorn under its own CLI process; with ``-w 2`` uvicorn has
    a small master and two workers. The processes within half of the largest are the ones
    that hold TensorFlow and the model.
    """
    import psutil

    root = psutil.Process(pid)
    rss = {p.pid: p.memory_info().rss for p in [root, *root.children(recursive=True)]}
    largest = max(rss.values())
    return {p: r for p, r in rss.items() if r >= largest / 2}


def _mixed_request(url: str, good: list[str], bad: str, i: int) -> float:
    """One request of good and bad rows; check each row is answered as it should be."""
    rows = [{"image": good[i % len(good)]}, {"image": good[(i + 3) % len(good)]},
            {"image": bad}, {"path": "/etc/passwd"},
            {"url": "http://169.254.169.254/latest/meta-data/"}]
    request = urllib.request.Request(f"{url}/invocations",
                                     json.dumps({"dataframe_records": rows}).encode(),
                                     {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())["predictions"]
    took = time.perf_counter() - start
    errors = [row["error"] for row in answer]
    assert len(answer) == 5 and errors[:2] == [None, None] and all(errors[2:]), answer
    return took


def _clients(url: str, good: list[str], bad: str, clients: int, seconds: float
             ) -> list[float]:
    """``clients`` threads sending mixed requests back to back for ``seconds``; latencies."""
    from concurrent.futures import ThreadPoolExecutor

    until = time.perf_counter() + seconds

    def client(c: int) -> list[float]:
        times, i = [], c
        while time.perf_counter() < until:
            times.append(_mixed_request(url, good, bad, i))
            i += clients
        return times

    with ThreadPoolExecutor(clients) as pool:
        return sorted(t for ts in pool.map(client, range(clients)) for t in ts)


def load(config, seconds: float, clients: int, warmup: float = 30.0) -> None:
    """Many clients, mixed rows, 1 and 2 workers: throughput, latency, memory after warm-up."""
    good = [base64.b64encode(jpeg(1600, 1200, i)).decode() for i in range(8)]
    bad = base64.b64encode(jpeg(1600, 1200, 99)[:3000]).decode()
    print(f"load: {clients} clients x {seconds:.0f} s per setting; each request 2 good "
          "1600x1200 JPEGs + a truncated image + a refused path + a refused internal URL")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build(Path(tmp), config, optional=False)
        for workers in (1, 2):
            proc, url = serve(model_dir, workers)
            try:
                _clients(url, good, bad, clients, warmup)  # warm-up: traces, caches, pools
                before = _tree_rss(proc.pid)
                started = time.perf_counter()
                latencies = _clients(url, good, bad, clients, seconds)
                elapsed = time.perf_counter() - started
                after = _tree_rss(proc.pid)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
            n = len(latencies)
            growth = [100 * (after.get(pid, rss) - rss) / rss for pid, rss in before.items()]
            sizes = ", ".join(f"{rss >> 20}->{after.get(pid, rss) >> 20} MB"
                              for pid, rss in before.items())
            print(f"{workers} worker{'s' if workers > 1 else ' '}: {n} requests, all answered; "
                  f"{2 * n / elapsed:5.1f} images/s; latency p50 {latencies[n // 2]:.2f} s, "
                  f"p95 {latencies[int(0.95 * (n - 1))]:.2f} s, "
                  f"p99 {latencies[int(0.99 * (n - 1))]:.2f} s; memory growth per worker "
                  f"after warm-up: {', '.join(f'{g:+.1f}%' for g in growth)} ({sizes})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.FIELD=VALUE", help="override a setting (repeatable)")
    parser.add_argument("--load", type=float, default=0,
                        help="seconds of concurrent load per worker setting (0: no load test)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=30,
                        help="seconds of load before memory is first measured")
    args = parser.parse_args()
    config = load_config(args.preset, ["effnet.weights=none", *args.overrides])
    if args.load:
        load(config, args.load, args.clients, args.warmup)
        return
    one = jpeg(3000, 2000, 0)
    batch = [jpeg(3000, 2000, i) for i in range(16)]
    from mediumnet.branches import keras_branches

    optional = [b.name for b in keras_branches() if b.stacking != "always"]
    inputs = "; ".join(f"{b.name} {b.preprocessor(config).example().shape[1]}px"
                       for b in keras_branches())
    print(f"preset {args.preset} ({inputs}); {os.cpu_count()} CPUs; 3000x2000 JPEGs")
    from mediumnet.branches import fitted_branches

    settings = [(f"stack without {', '.join(optional)}", {"optional": False}),
                (f"stack with {', '.join(optional)}", {"optional": True})]
    settings += [(f"{b.name} alone", {"optional": False, "only": b.name})
                 for b in fitted_branches() if b.standalone and b.enabled(config)]
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, how) in enumerate(settings):
            folder = Path(tmp) / str(number)
            folder.mkdir()
            p50, p95, rate = measure(build(folder, config, **how), one, batch, args)
            print(f"{name}: one image p50 {p50 * 1000:6.0f} ms, p95 {p95 * 1000:6.0f} ms; "
                  f"batches of 16: {rate:5.2f} images/s", flush=True)


def measure(model_dir: Path, one: bytes, batch: list[bytes], args) -> tuple[float, float, float]:
    """Serve a model; its latency p50 and p95 for one image, its images/s in batches of 16."""
    proc, url = serve(model_dir)
    try:
        post(url, [one])  # warm-up: first traces
        post(url, batch)
        latencies = sorted(post(url, [one]) for _ in range(args.requests))
        p50 = latencies[len(latencies) // 2]
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        seconds = [post(url, batch) for _ in range(args.batches)]
        return p50, p95, 16 * len(seconds) / sum(seconds)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
