"""A store with a trained, stacked and registered ensemble, built once per test session."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MLFLOW_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME",
               "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")

TINY = ["composition.epochs=2", "texture.epochs=2", "composition.filters=4,8,8",
        "texture.filters=4,8", "composition.dense_units=8", "texture.dense_units=8",
        "data.composition_size=48", "data.texture_tile=32", "data.tiles_per_image_train=2",
        "data.tiles_per_image_eval=2", "data.cache_long_edge=400",
        "effnet.image_size=32", "effnet.stage_epochs=1,1,1", "train.warmup_epochs=0"]
"""Settings that train every branch in seconds on a CPU."""


@dataclass
class Stacked:
    """A working directory whose ./mlflow.db holds two branches and a champion ensemble."""

    home: Path
    dataset: Path
    result: object


def jpeg_bytes(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    """A real JPEG of coloured noise strokes."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def bomb_png() -> bytes:
    """A PNG header claiming 100,000 x 100,000 pixels with no data behind it."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


BAD_IMAGES = {
    "truncated": lambda: jpeg_bytes()[:2000],
    "not_an_image": lambda: b"<html><body>Not found</body></html>",
    "bomb": bomb_png,
}
"""Kinds of bad image bytes a served model must answer with an error row."""


@pytest.fixture(scope="session")
def stacked(tmp_path_factory) -> Stacked:
    """Synthesise, split, train both branches (tiny), stack and register, once."""
    from mediumnet.config import SynthConfig, load_config
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.splits import splits
    from mediumnet.data.synth import synthesize
    from mediumnet.ensemble.stacking import stack
    from mediumnet.train import train_branch

    home = tmp_path_factory.mktemp("stacked")
    with pytest.MonkeyPatch.context() as mp:
        for var in MLFLOW_VARS:
            mp.delenv(var, raising=False)
        mp.chdir(home)
        root = home / "ds"
        synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                     artists_per_class=4), progress=False)
        write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
        config = load_config("demo", TINY)
        for branch in ("composition", "texture"):
            train_branch(root, branch, config, progress=False)
        # The stack itself, whatever the tiny branches score: these tests serve all parts.
        config.ensemble.keep = "stack"
        result = stack(root, config, progress=False)
    return Stacked(home, root, result)


@pytest.fixture
def tiny_split(workdir: Path) -> Path:
    """A split synthetic set of 40 works of 320x240, in a fresh working directory."""
    from mediumnet.config import SynthConfig
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.data.splits import splits
    from mediumnet.data.synth import synthesize

    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                 artists_per_class=4), progress=False)
    write_manifest(root, splits(read_manifest(root), val=0.25, test=0.25))
    return root


@pytest.fixture
def in_store(stacked: Stacked, monkeypatch: pytest.MonkeyPatch) -> Stacked:
    """Work inside the stacked store (its ./mlflow.db is MLflow's default store)."""
    for var in MLFLOW_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(stacked.home)
    return stacked


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(proc: subprocess.Popen, url: str, log_path: Path, what: str,
                         seconds: float) -> None:
    """Wait until ``url`` answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited:\n" + log_path.read_text()[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer {url} within {seconds:.0f} s:\n"
                        + log_path.read_text()[-3000:])
        time.sleep(1)


@contextlib.contextmanager
def serve_model(home: Path, uri: str, env_extra: dict[str, str] | None = None,
                host: str = "127.0.0.1") -> Iterator[str]:
    """Run a real ``mlflow models serve`` of ``uri`` from the store in ``home``; yield its URL.

    ``env_extra`` goes into the server's environment (the deployer's settings).
    """
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS
           and not k.startswith("MEDIUMNET_SERVE_")}
    env.update(env_extra or {})
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    port = _free_port()
    log_path = home / f"serve-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(bin_dir / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
         "-h", host, "-p", str(port)],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{host}:{port}"
    try:
        wait_until_answering(proc, f"{url}/ping", log_path, "mlflow models serve", 240)
        yield url
    finally:
        # The server execs uvicorn, whose worker would keep serving: stop the whole group.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
