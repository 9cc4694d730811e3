"""A shared tracking server on PostgreSQL: the whole chain tracked through it, then served from it.

Everything is real and on 127.0.0.1: a throw-away PostgreSQL 15 cluster (initdb, pg_ctl), an
``mlflow server`` on it with artifacts proxied through the server, ``mlflow run . -e main``
with ``MLFLOW_TRACKING_URI`` pointing at the server, and ``mlflow models serve`` of the
champion fetched from it. Nothing may reach for a local ``./mlruns`` or ``./mlflow.db``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.conftest import (
    MLFLOW_VARS,
    _free_port,
    jpeg_bytes,
    serve_model,
    wait_until_answering,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PG_BIN = Path(os.environ.get("MEDIUMNET_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL tool; as the ``postgres`` system user when we are root (it refuses root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120,
                          **kwargs)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a throw-away PostgreSQL cluster on a free port; yield its SQLAlchemy URL."""
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL is not installed in {PG_BIN} (set MEDIUMNET_PG_BIN)")
    base = Path(tempfile.mkdtemp(prefix="mediumnet-pg-", dir="/tmp"))
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (base, data):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()
    try:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "mlflow",
                      "--no-sync"])
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                      "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"])
        _as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                      "mlflow", "mlflow"])
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def tracking_server(store_uri: str, artifacts: Path, log: Path) -> Iterator[str]:
    """Run ``mlflow server`` on the store, proxying artifacts; yield its URL."""
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS}
    handle = log.open("wb")
    proc = subprocess.Popen(
        [str(bin_dir / "mlflow"), "server", "--backend-store-uri", store_uri,
         "--artifacts-destination", str(artifacts), "--serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(proc, f"{url}/health", log, "mlflow server", 180)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(10)
        handle.close()


def test_the_chain_tracks_to_a_postgresql_server_and_serves_from_it(tmp_path):
    pytest.importorskip("psycopg", reason="the server extra: pip install 'mediumnet[server]'")
    work = tmp_path / "client"
    work.mkdir()
    with postgres_cluster() as store, \
            tracking_server(store, tmp_path / "artifacts", tmp_path / "server.log") as url:
        env = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS}
        env.update(MLFLOW_TRACKING_URI=url,
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
        done = subprocess.run(
            [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main", "--env-manager",
             "local", "--experiment-name", "mediumnet", "-P", "preset=tiny",
             "-P", f"dataset_dir={work / 'ds'}"],
            cwd=work, env=env, capture_output=True, text=True, timeout=1500)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        # Tracked and stored by the server alone: no local store appeared on the client.
        assert not (work / "mlruns").exists() and not (work / "mlflow.db").exists()
        assert list((tmp_path / "artifacts").rglob("MLmodel")), "no model reached the server"
        import mlflow

        client = mlflow.MlflowClient(url)
        champion = client.get_model_version_by_alias("mediumnet-ensemble", "champion")
        runs = client.search_runs([client.get_experiment_by_name("mediumnet").experiment_id])
        assert {r.data.tags.get("mediumnet.step") for r in runs} >= {"main", "stack"}

        with serve_model(work, "models:/mediumnet-ensemble@champion",
                         env_extra={"MLFLOW_TRACKING_URI": url}) as served:
            body = json.dumps({"dataframe_split": {"columns": ["image"], "data": [
                [base64.b64encode(jpeg_bytes(320, 240, seed=s)).decode()] for s in (1, 2)]}})
            request = urllib.request.Request(f"{served}/invocations", body.encode(),
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())["predictions"]
    assert len(answer) == 2 and all(row["error"] is None for row in answer)
    assert all(abs(sum(v for k, v in row.items() if k.startswith("p_")) - 1) < 1e-6
               for row in answer)
    assert champion.version
