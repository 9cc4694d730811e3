"""A served model lets no one in where it does not belong: a real `mlflow models serve`.

The deployer opens one folder (MEDIUMNET_SERVE_ROOTS), allows one internal host
(MEDIUMNET_SERVE_ALLOW_HOSTS: 127.0.0.2, where a test image server listens) and sets a short
deadline; everything else — /etc/passwd, escapes from the folder, loopback URLs, redirects into
the machine, too many rows, a URL that never answers — is refused or cut, and the server goes on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mediumnet.serving.guard import PATH_REFUSED
from tests.integration.conftest import jpeg_bytes, serve_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALLOWED_HOST = "127.0.0.2"
DEADLINE = 3


class _Images(BaseHTTPRequestHandler):
    """An image server the deployer trusts: an image, a redirect inward, a URL that hangs."""

    image = b""
    inward = ""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/work.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.image)))
            self.end_headers()
            self.wfile.write(self.image)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.inward)
            self.end_headers()
        elif self.path == "/slow.jpg":
            time.sleep(DEADLINE * 4)
            # The served model gave up at its deadline, as it should: nobody listens.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_error(504)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def _server(host: str) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer((host, 0), _Images)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


@pytest.fixture(scope="module")
def setting(stacked, tmp_path_factory):
    allowed = tmp_path_factory.mktemp("served")
    outside = tmp_path_factory.mktemp("private")
    (allowed / "work.jpg").write_bytes(jpeg_bytes(seed=31))
    (outside / "secret.jpg").write_bytes(jpeg_bytes(seed=32))
    (allowed / "link.jpg").symlink_to(outside / "secret.jpg")
    images, images_url = _server(ALLOWED_HOST)
    internal, internal_url = _server("127.0.0.1")
    _Images.image = jpeg_bytes(seed=33)
    _Images.inward = f"{internal_url}/work.jpg"
    env = {"MEDIUMNET_SERVE_ROOTS": str(allowed), "MEDIUMNET_SERVE_ALLOW_HOSTS": ALLOWED_HOST,
           "MEDIUMNET_SERVE_DEADLINE": str(DEADLINE)}
    with serve_model(stacked.home, "models:/mediumnet-ensemble@champion", env) as url:
        yield {"url": url, "allowed": allowed, "outside": outside, "images": images_url,
               "internal": internal_url}
    images.shutdown()
    internal.shutdown()


def _post(url: str, records: list[dict]) -> tuple[int, object, float]:
    request = urllib.request.Request(f"{url}/invocations",
                                     json.dumps({"dataframe_records": records}).encode(),
                                     {"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), time.monotonic() - started


def _errors(setting, records):
    status, body, _ = _post(setting["url"], records)
    assert status == 200, body
    return [row["error"] for row in body["predictions"]]


def test_paths_outside_the_served_folder_are_refused_without_a_hint(setting):
    allowed, outside = setting["allowed"], setting["outside"]
    errors = _errors(setting, [
        {"path": "/etc/passwd"}, {"path": "/no/such/file.jpg"},
        {"path": str(allowed / ".." / outside.name / "secret.jpg")},
        {"path": str(allowed / "link.jpg")}, {"path": str(allowed / "work.jpg")}])
    # Existing or not, readable or not: the same words, which name the rule.
    assert errors[:4] == [PATH_REFUSED] * 4
    assert errors[4] is None


def test_urls_into_the_machine_are_refused_and_an_allowed_host_is_fetched(setting):
    port = setting["internal"].rsplit(":", 1)[1]
    errors = _errors(setting, [
        {"url": f"http://127.0.0.1:{port}/work.jpg"},
        {"url": f"http://localhost:{port}/work.jpg"},
        {"url": f"{setting['images']}/redirect"},
        {"url": "file:///etc/passwd"},
        {"url": f"{setting['images']}/work.jpg"}])
    for error in errors[:3]:
        assert error.startswith("url refused:") and "internal address" in error, error
        assert "HTTP" not in error and "bytes" not in error      # nothing of the answer
    assert "only http(s) URLs can be fetched" in errors[3]
    assert errors[4] is None


def test_too_many_rows_are_a_client_error(setting):
    good = base64.b64encode(jpeg_bytes(seed=34)).decode()
    status, body, _ = _post(setting["url"], [{"image": good}] * 65)
    assert status == 400
    assert "65 rows in one request; this server answers at most 64" in json.dumps(body)


def test_a_slow_url_is_cut_at_the_deadline_and_the_other_rows_are_answered(setting):
    good = base64.b64encode(jpeg_bytes(seed=35)).decode()
    status, body, seconds = _post(setting["url"], [
        {"url": f"{setting['images']}/slow.jpg"}, {"image": good},
        {"url": f"{setting['images']}/work.jpg"}])
    assert status == 200, body
    slow, by_bytes, by_url = body["predictions"]
    assert "not fetched within the request's deadline" in slow["error"]
    assert by_bytes["error"] is None and by_url["error"] is None
    assert seconds < DEADLINE * 3
    # The server still answers afterwards.
    status, again, _ = _post(setting["url"], [{"image": good}])
    assert status == 200 and again["predictions"][0]["label"] == by_bytes["label"]
