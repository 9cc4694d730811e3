"""The served model's policy: confined paths, internal addresses refused, bounds from the env."""

import pandas as pd
import pytest

from mediumnet.serving.guard import PATH_REFUSED, RefusedError, ServePolicy
from mediumnet.serving.requests import rows_to_items


def test_the_default_served_policy_reads_no_path_and_fetches_no_internal_host():
    policy = ServePolicy.from_env({})
    assert policy.roots == () and policy.urls and policy.max_rows == 64
    with pytest.raises(RefusedError, match="path refused"):
        policy.check_path("/etc/passwd")
    for url in ("http://127.0.0.1/x.jpg", "http://localhost/x.jpg", "http://[::1]/x.jpg",
                "http://10.1.2.3/x.jpg", "http://192.168.0.9/x.jpg", "http://169.254.169.254/",
                "http://[fe80::1]/x.jpg", "http://224.0.0.1/x.jpg", "http://0.0.0.0/x.jpg",
                "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/",
                "http://[2002:7f00:1::]/"):
        with pytest.raises(RefusedError, match="internal address"):
            policy.check_url(url)
    with pytest.raises(RefusedError, match=r"only http\(s\) URLs"):
        policy.check_url("file:///etc/passwd")
    opened = ServePolicy.from_env({"MEDIUMNET_SERVE_ALLOW_HOSTS": "localhost, 10.1.2.3"})
    opened.check_url("http://localhost:8080/x.jpg")
    opened.check_url("http://10.1.2.3/x.jpg")
    with pytest.raises(RefusedError, match="fetches no URLs"):
        ServePolicy.from_env({"MEDIUMNET_SERVE_URLS": "off"}).check_url("https://example.org/")


def test_paths_are_resolved_before_they_are_checked(tmp_path):
    served, private = tmp_path / "served", tmp_path / "private"
    served.mkdir()
    private.mkdir()
    (private / "secret.jpg").write_bytes(b"x")
    (served / "link.jpg").symlink_to(private / "secret.jpg")
    policy = ServePolicy.from_env({"MEDIUMNET_SERVE_ROOTS": str(served)})
    assert policy.check_path(str(served / "a.jpg")) == str(served / "a.jpg")
    for escape in (served / ".." / "private" / "secret.jpg", served / "link.jpg",
                   private / "missing.jpg"):
        with pytest.raises(RefusedError) as error:
            policy.check_path(str(escape))
        assert str(error.value) == PATH_REFUSED
    assert ServePolicy.local().check_path("/anything") == "/anything"


@pytest.mark.parametrize("name", ["MEDIUMNET_SERVE_MAX_ROWS", "MEDIUMNET_SERVE_DEADLINE",
                                  "MEDIUMNET_SERVE_MAX_PIXELS"])
def test_a_bad_bound_in_the_environment_is_named(name):
    with pytest.raises(ValueError, match=f"{name}='-3': give a positive number"):
        ServePolicy.from_env({name: "-3"})


def test_rows_past_the_pixel_budget_are_answered_with_an_error():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, "PNG")
    import base64

    row = {"image": base64.b64encode(buffer.getvalue()).decode()}
    policy = ServePolicy(max_pixels=25_000)
    items = rows_to_items(pd.DataFrame([row, row, row]), policy)
    assert isinstance(items[0], bytes) and isinstance(items[1], bytes)
    assert isinstance(items[2], ValueError) and "budget of 25,000 decoded pixels" in str(items[2])
    assert all(isinstance(i, bytes) for i in rows_to_items(pd.DataFrame([row] * 3)))
