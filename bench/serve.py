"""Serving speed: the ensemble behind a real `mlflow models serve`, raw JPEGs in.

    .venv/bin/python bench/serve.py [--preset seed] [--requests 20] [--batches 5]
                                    [--effnet-variant B0]

Builds the branch models of a preset (untrained: speed does not depend on the weights) and a
meta-learner, saves the ensemble twice (with and without the EfficientNet branch), serves each
on 127.0.0.1, and prints the latency p50/p95 of a request with one 3000x2000 JPEG and the
images per second of requests with batches of 16 such JPEGs. Decoding, both views, the
features, every branch and the meta-learner are inside the measurement; so is HTTP and JSON.
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


def build(folder: Path, config, with_effnet: bool) -> Path:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from mediumnet.ensemble import save_ensemble
    from mediumnet.features import NUMERIC_FOR_MODELS
    from mediumnet.preprocessing import branch_preprocessor
    from mediumnet.train import _build_model

    branches = ["composition", "texture"] + (["effnet"] if with_effnet else [])
    dirs, settings = {}, {}
    for branch in branches:
        model = _build_model(branch, config)
        settings[branch] = branch_preprocessor(branch, config).to_config()
        dirs[branch] = folder / branch
        mlflow.keras.save_model(model, str(dirs[branch]), pip_requirements=[],
                                metadata={"mediumnet": settings[branch]})
    rng = np.random.default_rng(0)
    width = 5 * len(branches) + len(NUMERIC_FOR_MODELS)
    meta = LogisticRegression(max_iter=200).fit(rng.normal(size=(50, width)),
                                                np.arange(50) % 5)
    return save_ensemble(folder / "ensemble", dirs, settings, meta, NUMERIC_FOR_MODELS)


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


def serve(model_dir: Path):
    bin_dir = Path(sys.executable).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir),
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--effnet-variant", default="",
                        help="EfficientNet variant (default: the preset's)")
    args = parser.parse_args()
    overrides = ["effnet.weights=none"]
    if args.effnet_variant:
        overrides.append(f"effnet.variant={args.effnet_variant}")
    config = load_config(args.preset, overrides)
    one = jpeg(3000, 2000, 0)
    batch = [jpeg(3000, 2000, i) for i in range(16)]
    print(f"preset {args.preset} (composition {config.data.composition_size}px, texture "
          f"{config.data.tiles_per_image_eval}x{config.data.texture_tile}px, effnet "
          f"{config.effnet.variant} {config.effnet.image_size}px); {os.cpu_count()} CPUs; "
          "3000x2000 JPEGs")
    with tempfile.TemporaryDirectory() as tmp:
        for with_effnet in (False, True):
            folder = Path(tmp) / f"effnet-{with_effnet}"
            folder.mkdir()
            model_dir = build(folder, config, with_effnet)
            proc, url = serve(model_dir)
            try:
                post(url, [one])  # warm-up: first traces
                post(url, batch)
                latencies = sorted(post(url, [one]) for _ in range(args.requests))
                p50 = latencies[len(latencies) // 2]
                p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
                seconds = [post(url, batch) for _ in range(args.batches)]
                rate = 16 * len(seconds) / sum(seconds)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
            name = "with effnet   " if with_effnet else "without effnet"
            print(f"{name}: one image p50 {p50 * 1000:6.0f} ms, p95 {p95 * 1000:6.0f} ms; "
                  f"batches of 16: {rate:5.2f} images/s")


if __name__ == "__main__":
    main()
