"""`mlflow models serve` on the champion ensemble: real server, real HTTP, raw images in."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from mediumnet.labels import MEDIUMS
from tests.integration.conftest import BAD_IMAGES, jpeg_bytes, serve_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _strict_json(text: str):
    """Parse JSON as curl users' tools do: NaN or Infinity are errors."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def server(stacked, tmp_path_factory):
    # The deployer opens path rows for the test folders (the README's tmp_path among them).
    roots = {"MEDIUMNET_SERVE_ROOTS": str(tmp_path_factory.getbasetemp())}
    with serve_model(stacked.home, "models:/mediumnet-ensemble@champion", roots) as url:
        yield url


def _post(url: str, payload: dict) -> tuple[int, object]:
    request = urllib.request.Request(f"{url}/invocations", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, _strict_json(response.read().decode())
    except urllib.error.HTTPError as exc:
        return exc.code, _strict_json(exc.read().decode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _check_good(row: dict) -> None:
    assert row["error"] is None
    assert row["label"] in MEDIUMS
    probs = [row[f"p_{m}"] for m in MEDIUMS]
    assert abs(sum(probs) - 1) < 1e-4
    assert row["confidence"] == pytest.approx(max(probs))
    assert row["label"] == MEDIUMS[probs.index(max(probs))]


def test_a_batch_of_real_jpegs_in_dataframe_split(server):
    images = [jpeg_bytes(seed=s) for s in range(3)] + [jpeg_bytes(1600, 1200, seed=9)]
    status, body = _post(server, {"dataframe_split": {
        "columns": ["image"], "data": [[_b64(b)] for b in images]}})
    assert status == 200, body
    rows = body["predictions"]
    assert len(rows) == 4
    for row in rows:
        _check_good(row)


def test_a_phones_heic_photograph_and_an_avif_are_answered_as_their_png_twin(server):
    import io

    import pillow_heif
    from PIL import Image

    picture = Image.open(io.BytesIO(jpeg_bytes(640, 480, seed=4)))
    files = {}
    for fmt in ("PNG", "HEIC", "AVIF"):
        buffer = io.BytesIO()
        if fmt == "HEIC":
            pillow_heif.from_pillow(picture).save(buffer, quality=95, chroma=444)
        else:
            picture.save(buffer, fmt, **({"quality": 95} if fmt == "AVIF" else {}))
        files[fmt] = buffer.getvalue()
    status, body = _post(server, {"dataframe_records": [{"image": _b64(b)}
                                                        for b in files.values()]})
    assert status == 200, body
    png, heic, avif = body["predictions"]
    for row in (png, heic, avif):
        _check_good(row)
    for row in (heic, avif):
        assert max(abs(row[f"p_{m}"] - png[f"p_{m}"]) for m in MEDIUMS) < 0.05


def test_bad_rows_get_an_error_and_the_good_rows_an_answer(server, stacked):
    good = jpeg_bytes(seed=4)
    path = next((stacked.dataset / "images").rglob("*.jpg"))
    records = [{"image": _b64(good)},
               *[{"image": _b64(make())} for make in BAD_IMAGES.values()],
               {"image": ""},
               {"url": "http://127.0.0.1:9/gone.jpg"},
               {"path": str(path)},
               {"path": str(stacked.home / "missing.jpg")}]
    status, body = _post(server, {"dataframe_records": records})
    assert status == 200, body
    rows = body["predictions"]
    assert len(rows) == len(records)
    _check_good(rows[0])
    _check_good(rows[-2])
    for row in rows[1:-2] + rows[-1:]:
        assert row["error"] and row["label"] is None
        assert all(row[f"p_{m}"] is None for m in MEDIUMS)
    # The server is still there and still right.
    status, again = _post(server, {"dataframe_records": [{"image": _b64(good)}]})
    assert status == 200
    assert again["predictions"][0]["label"] == rows[0]["label"]


def test_twenty_concurrent_requests_are_all_answered(server):
    images = [jpeg_bytes(seed=20 + i) for i in range(4)]
    payloads = [{"dataframe_records": [{"image": _b64(images[i % 4])},
                                       {"image": _b64(images[(i + 1) % 4])}]}
                for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda p: _post(server, p), payloads))
    solo = {i: _post(server, {"dataframe_records": [{"image": _b64(b)}]})[1]["predictions"][0]
            for i, b in enumerate(images)}
    for i, (status, body) in enumerate(answers):
        assert status == 200, body
        first, second = body["predictions"]
        _check_good(first)
        _check_good(second)
        assert first["label"] == solo[i % 4]["label"]
        assert first["p_painting"] == pytest.approx(solo[i % 4]["p_painting"], abs=1e-5)


def test_a_request_without_an_image_column_is_a_client_error(server):
    status, body = _post(server, {"dataframe_records": [{"picture": "x"}]})
    assert status == 400
    assert "send one of image, path, url" in json.dumps(body)


def test_the_readme_curl_examples_answer_as_documented(server, stacked, tmp_path):
    import re

    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme.split("## Serving", 1)[1]
    block = re.search(r"```bash\n(IMAGE=.*?)```", section, re.S).group(1)
    port = server.rsplit(":", 1)[1]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(stacked.dataset)
    done = subprocess.run(["bash", "-euc", block.replace("127.0.0.1:5000", f"127.0.0.1:{port}")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    by_bytes, by_path = (_strict_json(line) for line in done.stdout.strip().splitlines())
    _check_good(by_bytes["predictions"][0])
    good, missing = by_path["predictions"]
    _check_good(good)
    assert good["label"] == by_bytes["predictions"][0]["label"]
    assert missing["label"] is None and missing["error"].endswith("missing.jpg: no such image file")
