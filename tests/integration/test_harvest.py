"""Harvesting against a real HTTP server on 127.0.0.1 that answers like the real APIs."""

import dataclasses
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from PIL import Image

from mediumnet.config import HarvestConfig, load_config
from mediumnet.data.manifest import read_manifest
from mediumnet.errors import DatasetError, MediumnetError
from mediumnet.harvest.artic import ArticSource
from mediumnet.harvest.artsy import ArtsySource
from mediumnet.harvest.engine import harvest, run_harvest
from mediumnet.harvest.folder import FolderSource
from mediumnet.harvest.met import MetSource
from tests.integration.fakeapis import (
    ARTSY_KINDS,
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN,
    FakeApis,
    aic_artwork,
    artsy_artwork,
    make_jpeg,
    met_object,
    serve_aic_pages,
    serve_artsy_pages,
)

pytestmark = pytest.mark.integration

FAST = HarvestConfig(api_rate=1000, image_rate=1000, backoff=0.01, max_backoff=2.0,
                     timeout=2.0, retries=4, page_size=4)


@pytest.fixture
def apis():
    server = FakeApis().start()
    yield server
    server.stop()


def artsy(server, **kwargs):
    return ArtsySource(f"{server.base}/artsy/api", CLIENT_ID, CLIENT_SECRET, **kwargs)


def five_kinds(server, start=0, repeat=2):
    works = []
    for r in range(repeat):
        for k, (category, medium, _) in enumerate(ARTSY_KINDS):
            works.append(artsy_artwork(server, start + r * 10 + k, category, medium))
    return works


def assert_store_is_clean(root: Path):
    """Every stored image decodes; no temporary file is left."""
    for path in (root / "images").rglob("*"):
        assert not path.name.startswith(".part-"), path
        if path.is_file():
            with Image.open(path) as im:
                im.load()


# -- Artsy -----------------------------------------------------------------------------------

def test_artsy_harvest_labels_pages_and_images(apis, workdir):
    works = five_kinds(apis)
    works.append(artsy_artwork(apis, 90, "Sculpture", "Bronze"))
    works.append(artsy_artwork(apis, 91, "Painting", "Oil on canvas", has_image=False))
    works.append(artsy_artwork(apis, 92, "Painting", "Oil on canvas", depth=30.0))
    works.append(artsy_artwork(apis, 93, "Painting", "Oil on canvas",
                               versions=["large", "medium"], title="Le DÃ©jeuner"))
    works.append(artsy_artwork(apis, 94, "Unheard Of", "Oil on canvas"))
    works.append(artsy_artwork(apis, 95, "Painting", "Tempera on panel", null_dimensions=True))
    serve_artsy_pages(apis, works, page_size=4)

    result = harvest(artsy(apis, genes=True), workdir / "ds", FAST, progress=False)

    manifest = read_manifest(workdir / "ds")
    assert result.complete and result.seen == 16
    assert result.kept_by_medium == {"painting": 4, "engraving": 2, "drawing": 2,
                                     "gouache_watercolor": 2, "photography": 2}
    assert result.dropped_by_reason == {"unmapped": 2, "no_image": 1, "three_dimensional": 1}
    assert result.unmapped_by_reason == {
        "category Sculpture: not a two-dimensional medium": 1,
        "category Unheard Of: not in the artsy table": 1}
    # the best image version: normalized when offered, else large
    image_requests = [e.path for e in apis.requests_to("/cdn/")]
    assert sum(p.endswith("/normalized.jpg") for p in image_requests) == 11
    assert any(p.endswith("/large.jpg") for p in image_requests)
    assert not any(p.endswith(("/medium.jpg", "/square.jpg")) for p in image_requests)
    # every page followed once, token used, artists and genes fetched for kept works only
    assert len(apis.requests_to("/artsy/api/artworks")) == 4  # 16 works, 4 a page
    assert all(e.headers.get("X-Xapp-Token") == TOKEN
               for e in apis.requests_to("/artsy/api/artworks"))
    assert len(apis.requests_to("/artsy/api/artists")) == 12
    assert len(apis.requests_to("/artsy/api/genes")) == 12
    raw_kinds = {json.loads(line)["kind"] for line in
                 (workdir / "ds" / "raw" / "artsy.jsonl").read_text().splitlines()}
    assert raw_kinds == {"artworks", "artists", "genes"}
    row = manifest.set_index("title").loc["Le Déjeuner"]  # mojibake repaired
    assert row["label"] == "painting" and row["artist"] == "Artist 0"
    assert set(manifest["source"]) == {"artsy"}
    assert manifest["id"].str.startswith("artsy:").all()
    assert_store_is_clean(workdir / "ds")
    summary = json.loads((workdir / "ds" / "harvest_summary_artsy.json").read_text())
    assert summary["dropped_by_reason"]["three_dimensional"] == 1


def test_works_dropped_for_naming_no_medium_are_kept_by_a_later_keep_unlabelled_harvest(
        apis, workdir):
    """A curator who harvests first and asks for the unlabelled works after gets them."""
    import dataclasses

    works = five_kinds(apis, repeat=1)
    works.append(artsy_artwork(apis, 90, "Sculpture", "Bronze"))        # excluded: never kept
    works.append(artsy_artwork(apis, 94, "Unheard Of", "Oil on canvas"))  # no medium maps
    serve_artsy_pages(apis, works, page_size=4)
    keeping = dataclasses.replace(FAST, keep_unlabelled=True)
    root = workdir / "ds"

    first = harvest(artsy(apis), root, FAST, progress=False)
    assert first.kept == 5 and first.dropped_by_reason == {"unmapped": 2}
    second = harvest(artsy(apis), root, keeping, progress=False)
    assert second.kept == 6 and second.unlabelled == 1
    assert second.dropped_by_reason == {"unmapped": 1}                   # the sculpture
    assert ("1 record dropped before for naming no medium that maps, judged again: unlabelled "
            "works are kept now (--keep-unlabelled)") in second.notes
    unlabelled = read_manifest(root).query("label == ''")
    assert unlabelled["category"].tolist() == ["Unheard Of"]
    third = harvest(artsy(apis), root, keeping, progress=False)         # nothing left to judge
    assert third.kept == 6 and not any("judged again" in n for n in third.notes)

    # Outcomes logged before a record's keepability was: judged again once, then settled.
    outcomes = root / "raw" / "artsy-outcomes.jsonl"
    lines = [json.loads(line) for line in outcomes.read_text().splitlines()]
    outcomes.write_text("".join(json.dumps({k: v for k, v in o.items()
                                            if k != "unlabelled_keepable"}) + "\n"
                                for o in lines))
    fourth = harvest(artsy(apis), root, keeping, progress=False)
    assert any(n.startswith("1 record dropped before") for n in fourth.notes)
    assert fourth.kept == 6 and fourth.dropped_by_reason == {"unmapped": 1}
    fifth = harvest(artsy(apis), root, keeping, progress=False)
    assert not any("judged again" in n for n in fifth.notes)


def test_depth_threshold_is_a_setting(apis, workdir):
    serve_artsy_pages(apis, [artsy_artwork(apis, 1, "Painting", "Oil on canvas", depth=8.0)], 4)
    strict = harvest(artsy(apis), workdir / "a", FAST, progress=False)
    loose = harvest(artsy(apis), workdir / "b",
                    HarvestConfig(**{**FAST.__dict__, "max_depth_ratio": 0.5}), progress=False)
    assert strict.dropped_by_reason == {"three_dimensional": 1}
    assert loose.kept == 1


def test_works_dropped_as_three_dimensional_are_kept_by_a_later_harvest_that_allows_their_depth(
        apis, workdir):
    """Raising harvest.max_depth_ratio takes back the works it lets through, with no --offline."""
    import dataclasses

    works = five_kinds(apis, repeat=1)
    works.append(artsy_artwork(apis, 70, "Painting", "Oil on canvas", depth=8.0))   # 0.16
    works.append(artsy_artwork(apis, 71, "Painting", "Oil on canvas", depth=30.0))  # 0.60
    serve_artsy_pages(apis, works, page_size=3)
    root = workdir / "ds"
    first = harvest(artsy(apis), root, FAST, progress=False)
    assert first.kept == 5 and first.dropped_by_reason == {"three_dimensional": 2}

    deeper = dataclasses.replace(FAST, max_depth_ratio=0.2)
    second = harvest(artsy(apis), root, deeper, progress=False)
    assert second.kept == 6 and second.dropped_by_reason == {"three_dimensional": 1}
    assert ("1 record dropped before as three-dimensional, judged again: "
            "harvest.max_depth_ratio is 0.2 now") in second.notes
    assert read_manifest(root)["title"].str.fullmatch("Work 70").any()
    third = harvest(artsy(apis), root, deeper, progress=False)       # nothing left to judge
    assert third.kept == 6 and not any("judged again" in n for n in third.notes)

    # Outcomes logged before the ratio was: read from their detail, rounded up.
    outcomes = root / "raw" / "artsy-outcomes.jsonl"
    lines = [json.loads(line) for line in outcomes.read_text().splitlines()]
    outcomes.write_text("".join(json.dumps({k: v for k, v in o.items() if k != "depth_ratio"})
                                + "\n" for o in lines))
    same = harvest(artsy(apis), root, dataclasses.replace(FAST, max_depth_ratio=0.6),
                   progress=False)                       # 'depth is 0.60' may be above 0.6
    assert not any("judged again" in n for n in same.notes)
    deepest = harvest(artsy(apis), root, dataclasses.replace(FAST, max_depth_ratio=0.7),
                      progress=False)
    assert any(n.startswith("1 record dropped before as three-dimensional")
               for n in deepest.notes)
    assert deepest.kept == 7 and deepest.dropped_by_reason == {}


def test_retries_back_off_and_honour_retry_after(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=1), page_size=10)
    apis.faults["/artsy/api/artworks"].extend([("status", 429, {"Retry-After": "1"}),
                                               ("status", 503), ("reset",)])
    first_image = next(k for k in apis.routes if k.startswith("/cdn/") and
                       k.endswith("normalized.jpg"))
    apis.faults[first_image].extend([("status", 502), ("sleep", 2.5)])
    result = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert result.kept == 5
    listing = apis.requests_to("/artsy/api/artworks")
    assert len(listing) == 4
    assert listing[1].time - listing[0].time >= 0.95  # Retry-After: 1
    assert len(apis.requests_to(first_image)) == 3     # 502, timeout, success
    assert result.retries >= 5


def test_client_side_rate_limit_is_observable(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=2), page_size=2)
    slow = HarvestConfig(**{**FAST.__dict__, "api_rate": 5.0})
    harvest(artsy(apis), workdir / "ds", slow, progress=False)
    api_calls = sorted(e.time for e in apis.log if e.path.startswith("/artsy/api/")
                       and e.path != "/artsy/api")
    assert len(api_calls) >= 16
    span = api_calls[-1] - api_calls[0]
    assert (len(api_calls) - 1) / span <= 5.0 * 1.05
    gaps = [b - a for a, b in zip(api_calls, api_calls[1:], strict=False)]
    # The client spaces its calls 0.2 s apart; the server's arrival times carry the loopback's
    # scheduling jitter (a gap of 0.187 s on a loaded two-worker CI run). Without the limiter
    # the calls come milliseconds apart.
    assert min(gaps) >= 0.15


def test_expired_token_is_renewed_once(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=1), page_size=10)
    apis.expire_token_once = True
    result = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert result.kept == 5
    assert len(apis.requests_to("/artsy/api/tokens/xapp_token")) == 2


def test_rejected_credentials_are_one_clear_error(apis, workdir):
    apis.token_ok = False
    with pytest.raises(MediumnetError, match=r"Artsy refused the client id and secret \(HTTP "
                       r"401\): check --client-id/--client-secret or ARTSY_CLIENT_ID"):
        harvest(artsy(apis), workdir / "ds", FAST, progress=False)


def test_missing_credentials_are_named(workdir, monkeypatch):
    monkeypatch.delenv("ARTSY_CLIENT_ID", raising=False)
    monkeypatch.delenv("ARTSY_CLIENT_SECRET", raising=False)
    with pytest.raises(MediumnetError, match="Artsy needs credentials: pass --client-id"):
        harvest(ArtsySource("http://127.0.0.1:9/api"), workdir / "ds", FAST, progress=False)


@pytest.mark.parametrize("status", [404, 410])
def test_gone_artsy_api_says_it_was_retired(apis, workdir, status):
    apis.root_status = status
    with pytest.raises(MediumnetError) as info:
        harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    message = str(info.value)
    assert f"HTTP {status}" in message and "retired its public API" in message
    assert "mediumnet harvest met" in message and "mediumnet harvest artic" in message


def test_refused_connection_says_the_api_was_retired(workdir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = ArtsySource(f"http://127.0.0.1:{port}/api", CLIENT_ID, CLIENT_SECRET)
    started = time.monotonic()
    with pytest.raises(MediumnetError, match="is gone \\(no answer\\): Artsy retired"):
        harvest(source, workdir / "ds", FAST, progress=False)
    assert time.monotonic() - started < 5  # refused is not retried for long


# -- images ----------------------------------------------------------------------------------

def test_bad_images_are_rejected_counted_and_never_kept(apis, workdir):
    good = make_jpeg(1)
    bad = {"truncated": good[: len(good) // 2], "empty": b"",
           "not_an_image": b"<!DOCTYPE html><html><body>Access denied</body></html>",
           "corrupt": good[:200] + bytes(range(256)) * 4 + good[-2:],
           "too_large": make_jpeg(2, size=(800, 600))}
    works = [artsy_artwork(apis, 0, "Painting", "Oil on canvas", image=good)]
    works += [artsy_artwork(apis, i + 1, "Painting", "Oil on canvas", image=data)
              for i, data in enumerate(bad.values())]
    serve_artsy_pages(apis, works, page_size=10)
    settings = HarvestConfig(**{**FAST.__dict__, "max_image_bytes": 20_000})
    result = harvest(artsy(apis), workdir / "ds", settings, progress=False)
    assert result.kept == 1
    assert result.failed_by_reason == {reason: 1 for reason in bad}
    assert result.failed_examples["too_large"].endswith(  # what to do about it
        "bytes, over the cap of 20000 (harvest.max_image_bytes; raise it with --set "
        "harvest.max_image_bytes=N to keep such images)")
    stored = [p for p in (workdir / "ds" / "images").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [good]


def test_duplicates_near_duplicates_and_label_conflicts(apis, workdir):
    base = make_jpeg(7, size=(320, 240))
    recompressed = io.BytesIO()
    Image.open(io.BytesIO(base)).resize((300, 225)).save(recompressed, "JPEG", quality=60)
    works = [
        artsy_artwork(apis, 1, "Painting", "Oil on canvas", image=base),
        artsy_artwork(apis, 2, "Painting", "Oil on canvas", image=base),           # duplicate
        artsy_artwork(apis, 3, "Painting", "Oil on canvas",
                      image=recompressed.getvalue()),                               # near dup
        artsy_artwork(apis, 4, "Print", "Etching", image=make_jpeg(8)),
        artsy_artwork(apis, 5, "Photography", "Gelatin silver print",
                      image=make_jpeg(8)),                                          # conflict
        artsy_artwork(apis, 6, "Print", "Etching", image=make_jpeg(9)),
    ]
    serve_artsy_pages(apis, works, page_size=10)
    result = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    manifest = read_manifest(workdir / "ds")
    assert result.dropped_by_reason == {"duplicate": 1, "near_duplicate": 1,
                                        "label_conflict": 2}
    assert sorted(manifest["label"]) == ["engraving", "painting"]
    assert manifest["sha256"].is_unique


# -- resume, secrets, MLflow -------------------------------------------------------------------

def _cli(args, cwd, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "mediumnet", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _manifest_without_run_state(root):
    frame = pd.read_parquet(root / "manifest.parquet")
    return frame.sort_values("id").reset_index(drop=True)


def test_damaged_files_get_the_harvests_line_and_nothing_else_on_stderr(workdir):
    import numpy as np
    import tifffile

    (workdir / "src" / "painting").mkdir(parents=True)
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    tifffile.imwrite(workdir / "whole.tif", noise, compression="lzw", photometric="rgb",
                     rowsperstrip=16)
    whole = (workdir / "whole.tif").read_bytes()
    for size in (150, len(whole) * 2 // 3):   # cut in its directory, in its strips
        (workdir / "src" / "painting" / f"cut{size}.tif").write_bytes(whole[:size])
    (workdir / "src" / "painting" / "whole.tif").write_bytes(whole)   # a harvest keeps one
    runs = {}
    for name, extra in (("quiet", {}), ("verbose", {"MEDIUMNET_VERBOSE": "1"})):
        done = _cli(["harvest", "folder", name, "--from", "src"], workdir,
                    {"MEDIUMNET_VERBOSE": "", **extra})
        assert done.wait(timeout=300) == 0, done.stderr.read()
        runs[name] = done.stdout.read(), done.stderr.read()
    out, err = runs["quiet"]
    assert "truncated 1" in out and "libtiff: TIFFFillStrip: Read error on strip" in out
    assert "corrupt 1" in out and "cut150.tif: a TIFF file that does not open: damaged" in out
    assert "Warning" not in err and "Read error" not in err, err   # Pillow's, libtiff's own
    assert "UserWarning" in runs["verbose"][1]    # Pillow's remarks, when asked for


@pytest.mark.slow
def test_killed_harvest_resumes_to_the_same_manifest(apis, workdir):
    works = five_kinds(apis, repeat=6)
    works.append(artsy_artwork(apis, 99, "Painting", "Oil on canvas",
                               image=make_jpeg(1)[:500]))   # a failure, the same both ways
    serve_artsy_pages(apis, works, page_size=4)
    settings = ["--set", "harvest.page_size=4", "--set", "harvest.backoff=0.01",
                "--rate", "20", "--set", "harvest.image_rate=20", "--workers", "2",
                "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    api = ["--api-url", f"{apis.base}/artsy/api"]

    whole = _cli(["harvest", "artsy", "whole", *api, *settings], workdir)
    assert whole.wait(timeout=300) == 0, whole.stderr.read()

    outcomes_log = workdir / "killed" / "raw" / "artsy-outcomes.jsonl"

    def recorded():
        return outcomes_log.read_text().count("\n") if outcomes_log.exists() else 0

    for target in (5, 14):  # kill twice, mid-run, once some records are recorded
        proc = _cli(["harvest", "artsy", "killed", *api, *settings], workdir)
        deadline = time.monotonic() + 120
        while recorded() < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the harvest ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert recorded() < 31
    assert len(read_manifest(workdir / "whole")) == 30
    finish = _cli(["harvest", "artsy", "killed", *api, *settings], workdir)
    assert finish.wait(timeout=300) == 0, finish.stderr.read()

    a = _manifest_without_run_state(workdir / "whole")
    b = _manifest_without_run_state(workdir / "killed")
    pd.testing.assert_frame_equal(a, b)
    assert_store_is_clean(workdir / "killed")
    outcomes = [json.loads(line)["id"] for line in
                (workdir / "killed" / "raw" / "artsy-outcomes.jsonl").read_text().splitlines()]
    assert len(outcomes) >= 31


@pytest.mark.slow
def test_secrets_never_reach_disk_logs_or_messages(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=1), page_size=10)
    apis.expire_token_once = True
    env = {"ARTSY_CLIENT_ID": CLIENT_ID, "ARTSY_CLIENT_SECRET": CLIENT_SECRET}
    ok = _cli(["harvest", "artsy", "ds", "--api-url", f"{apis.base}/artsy/api", "--rate",
               "100", "--set", "harvest.image_rate=100"], workdir, env)
    out, err = ok.communicate(timeout=300)
    assert ok.returncode == 0, err
    apis.token_ok = False
    bad = _cli(["harvest", "artsy", "ds2", "--api-url", f"{apis.base}/artsy/api"], workdir, env)
    out2, err2 = bad.communicate(timeout=300)
    assert bad.returncode == 1 and err2.startswith("mediumnet: error: Artsy refused")
    written = b"".join(p.read_bytes() for p in workdir.rglob("*") if p.is_file())
    for secret in (CLIENT_SECRET, TOKEN):
        assert secret.encode() not in written
        assert secret not in out + err + out2 + err2
    runs = mlflow.search_runs(experiment_names=["mediumnet"])
    params = " ".join(str(v) for c in runs.columns if c.startswith(("params.", "tags."))
                      for v in runs[c])
    assert CLIENT_SECRET not in params and TOKEN not in params and CLIENT_ID not in params


def test_harvest_run_is_tracked_with_metrics_plot_and_dataset(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=1) + [
        artsy_artwork(apis, 50, "Sculpture", "Marble")], page_size=10)
    config = load_config("demo", ["harvest.api_rate=1000", "harvest.image_rate=1000"])
    result = run_harvest(artsy(apis), workdir / "ds", config, limit=None, progress=False)
    run = mlflow.search_runs(experiment_names=["mediumnet"]).iloc[0]
    assert run["params.source"] == "artsy"
    assert run["params.harvest.api_rate"] == "1000.0"
    assert run["metrics.records_seen"] == 6
    assert run["metrics.kept_painting"] == 1
    assert run["metrics.dropped_unmapped"] == 1
    assert run["metrics.failed_downloads"] == 0
    assert run["tags.mediumnet.dataset_digest"] == result.digest
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"])}
    assert {"class_balance.png", "harvest_summary.json", "config.yaml"} <= artifacts
    inputs = mlflow.get_run(run["run_id"]).inputs.dataset_inputs
    assert inputs[0].dataset.name == "ds-manifest"
    assert inputs[0].dataset.digest == result.digest


def test_limit_stops_after_n_kept_and_a_larger_limit_goes_on(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=3), page_size=4)
    first = harvest(artsy(apis), workdir / "ds", FAST, limit=6, progress=False)
    assert first.kept == 6 and not first.complete
    # The records listed and not judged: --offline leaves them to the next harvest (it called
    # them failed downloads before).
    from mediumnet.harvest.engine import reparse
    offline = reparse(artsy(apis), workdir / "ds", FAST)
    assert (offline.seen, offline.kept, offline.failed_by_reason) == (6, 6, {})
    assert offline.notes == ["9 records listed but not judged yet (the harvest stopped at its "
                             "--limit, or was stopped) left to the next harvest without "
                             "--offline"]
    more = harvest(artsy(apis), workdir / "ds", FAST, limit=11, progress=False)
    assert more.kept == 11
    rest = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert rest.kept == 15 and rest.complete
    assert read_manifest(workdir / "ds")["id"].is_unique


# -- the Met and the AIC -----------------------------------------------------------------------

def test_met_harvest(apis, workdir):
    objs = [met_object(apis, 1, "Paintings", "Oil on canvas"),
            met_object(apis, 2, "Prints", "Etching"),
            met_object(apis, 3, "Drawings", "Watercolor over graphite"),
            met_object(apis, 4, "Photographs", "Albumen silver print from glass negative"),
            met_object(apis, 5, "", "Pen and brown ink"),
            met_object(apis, 6, "Paintings", "Oil on canvas", public=False),
            met_object(apis, 7, "Drawings", "Charcoal", has_image=False),
            met_object(apis, 8, "Ceramics", "Porcelain"),
            met_object(apis, 9, "", "Rosewood, prickly juniper veneer")]
    ids = [o["objectID"] for o in objs] + [404]
    apis.routes["/met/v1/objects"] = {"total": len(ids), "objectIDs": ids}
    apis.faults["/met/v1/objects/2"].append(("status", 403))  # the firewall: back off
    result = harvest(MetSource(f"{apis.base}/met/v1", department_ids=[9, 11]), workdir / "ds",
                     FAST, progress=False)
    assert result.kept_by_medium == {"painting": 1, "engraving": 1, "drawing": 1,
                                     "gouache_watercolor": 1, "photography": 1}
    assert result.dropped_by_reason == {"not_public_domain": 1, "no_image": 1, "unmapped": 2,
                                        "not_found": 1}
    assert apis.requests_to("/met/v1/objects")[0].query == {"departmentIds": ["9|11"]}
    assert len(apis.requests_to("/met/v1/objects/2")) == 2
    manifest = read_manifest(workdir / "ds")
    assert set(manifest["artist"]) <= {f"Met artist {i}" for i in range(4)}
    # A second run asks for the object list again (the museum may have added works) but
    # never again for an object it has settled.
    apis.routes["/met/v1/objects"] = {"total": len(ids) + 1, "objectIDs": [*ids, 10]}
    met_object(apis, 10, "Paintings", "Tempera on panel")
    again = harvest(MetSource(f"{apis.base}/met/v1", department_ids=[9, 11]), workdir / "ds",
                    FAST, progress=False)
    assert len([e for e in apis.log if e.path == "/met/v1/objects"]) == 2
    assert len([e for e in apis.log if e.path == "/met/v1/objects/1"]) == 1
    assert again.added == 1 and again.kept_by_medium["painting"] == 2
    assert "listed again from the start for works added since" in again.text()


def test_a_resumed_met_harvest_keeps_its_object_list(apis, workdir):
    """A harvest stopped part-way resumes on the list it was walking (its cursor is a place in
    that list), not on a list asked anew."""
    objs = [met_object(apis, i, "Paintings", "Oil on canvas") for i in range(1, 6)]
    apis.routes["/met/v1/objects"] = {"total": 5, "objectIDs": [o["objectID"] for o in objs]}
    settings = dataclasses.replace(FAST, page_size=2)
    first = harvest(MetSource(f"{apis.base}/met/v1"), workdir / "ds", settings, limit=3,
                    progress=False)
    assert first.kept == 3 and not first.complete
    rest = harvest(MetSource(f"{apis.base}/met/v1"), workdir / "ds", settings, progress=False)
    assert rest.kept == 5 and rest.complete
    assert len([e for e in apis.log if e.path == "/met/v1/objects"]) == 1


def test_artic_harvest_names_itself_and_uses_iiif(apis, workdir):
    items = [aic_artwork(apis, 1, "Painting", "Oil on canvas"),
             aic_artwork(apis, 2, "Print", "Woodcut in black on ivory Japanese paper"),
             aic_artwork(apis, 3, "Drawing and Watercolor", "Red chalk on cream laid paper"),
             aic_artwork(apis, 4, "Drawing and Watercolor", "Watercolor, with touches of gouache"),
             aic_artwork(apis, 5, "Photograph", "Gelatin silver print"),
             aic_artwork(apis, 6, "Painting", "Oil on canvas", public=False),
             aic_artwork(apis, 7, "Textile", "Silk")]
    serve_aic_pages(apis, items, page_size=3)
    result = harvest(ArticSource(f"{apis.base}/aic/api/v1"), workdir / "ds", FAST,
                     progress=False)
    assert result.kept == 5 and result.complete
    assert result.dropped_by_reason == {"not_public_domain": 1, "unmapped": 1}
    listing = apis.requests_to("/aic/api/v1/artworks")
    assert [e.query["page"] for e in listing] == [["1"], ["2"], ["3"]]
    assert "image_id" in listing[0].query["fields"][0].split(",")
    for entry in listing + apis.requests_to("/iiif/"):
        assert entry.headers["User-Agent"].startswith("mediumnet/")
    assert all(e.path.endswith("/full/1686,/0/default.jpg") for e in apis.requests_to("/iiif/"))


def test_default_rates_are_polite():
    assert (ArtsySource.api_rate, MetSource.api_rate, ArticSource.api_rate) == (5.0, 3.0, 1.0)


# -- a local folder ----------------------------------------------------------------------------

def _tree(root: Path) -> Path:
    src = root / "src"
    for i, name in enumerate(["painting", "Prints", "watercolour", "drawing", "photography"]):
        (src / name).mkdir(parents=True)
        (src / name / f"{i}.jpg").write_bytes(make_jpeg(300 + i))
    (src / "sculpture").mkdir()
    (src / "sculpture" / "x.jpg").write_bytes(make_jpeg(399))
    (src / "painting" / "notes.txt").write_text("not an image")
    return src


def test_folder_tree_copy_and_link(workdir):
    src = _tree(workdir)
    result = harvest(FolderSource(src), workdir / "copied", FAST, progress=False)
    assert result.kept == 5 and result.dropped_by_reason == {"unknown_label": 1}
    manifest = read_manifest(workdir / "copied")
    assert set(manifest["label"]) == {"painting", "engraving", "gouache_watercolor", "drawing",
                                      "photography"}
    harvest(FolderSource(src, link=True), workdir / "linked", FAST, link=True, progress=False)
    linked = read_manifest(workdir / "linked").set_index("id")
    original = src / "painting" / "0.jpg"
    stored = workdir / "linked" / linked.loc["folder:painting/0.jpg", "image_path"]
    assert os.path.samefile(original, stored)


def test_a_harvest_again_keeps_the_mediums_a_curator_gave(workdir):
    """Re-harvesting an export must not undo `mediumnet label`: a medium given to a work its
    record names none for, or a wrong record corrected, stays with its reason and split."""
    import dataclasses

    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import write_manifest
    from mediumnet.harvest.engine import reparse

    (workdir / "imgs").mkdir()
    lines = ["path,label,artist"]
    for i, label in enumerate(["painting", "drawing", "", ""]):
        (workdir / "imgs" / f"{i}.png").write_bytes(make_jpeg(600 + i))
        lines.append(f"imgs/{i}.png,{label},Hand {i}")
    (workdir / "list.csv").write_text("\n".join(lines) + "\n")
    source, root = FolderSource(workdir / "list.csv"), workdir / "ds"
    keeping = dataclasses.replace(FAST, keep_unlabelled=True)
    harvest(source, root, keeping, progress=False)
    pd.DataFrame({"id": ["folder:imgs/2.png", "folder:imgs/0.png"],
                  "label": ["woodcut", "drawing"]}).to_csv(workdir / "sheet.csv", index=False)
    assert merge_labels(root, workdir / "sheet.csv").labelled == 1     # and 0.png corrected
    split = read_manifest(root)
    split.loc[split["label"] != "", "split"] = "train"                 # as mediumnet split
    write_manifest(root, split)
    curated = split.set_index("id").loc[["folder:imgs/0.png", "folder:imgs/2.png"]]

    again = harvest(source, root, keeping, progress=False)
    manifest = read_manifest(root).set_index("id")
    pd.testing.assert_frame_equal(manifest.loc[curated.index], curated)
    assert manifest.loc["folder:imgs/3.png", "label"] == ""            # still nobody's
    assert ("2 works keep the medium a curator gave (mediumnet label) over the record; the "
            "record now names another medium for 1") in again.text()

    # Judged again without --keep-unlabelled: the work nobody labelled goes, the one a
    # curator labelled stays, and is not counted as dropped.
    offline = reparse(source, root, FAST)
    manifest = read_manifest(root).set_index("id")
    pd.testing.assert_frame_equal(manifest.loc[curated.index], curated)
    assert "folder:imgs/3.png" not in manifest.index
    assert offline.dropped_by_reason == {"unknown_label": 1} and offline.kept == 3
    assert "1 kept although their record names no medium and --keep-unlabelled is off" \
        in offline.text()


def test_an_image_under_two_mediums_is_named_kept_for_a_curator_and_settled_by_label(workdir):
    """One scan copied into painting/ and drawing/: the harvest names both copies; with
    --keep-unlabelled one stays, unlabelled, for `mediumnet label` to settle for good."""
    import dataclasses

    from mediumnet.data.labelling import merge_labels

    src = workdir / "src"
    for i, medium in enumerate(["painting", "drawing", "painting"]):
        (src / medium).mkdir(parents=True, exist_ok=True)
        (src / medium / f"{i}.jpg").write_bytes(make_jpeg(800 + i))
    (src / "drawing" / "copy.jpg").write_bytes((src / "painting" / "0.jpg").read_bytes())
    root, keeping = workdir / "ds", dataclasses.replace(FAST, keep_unlabelled=True)
    pair = "drawing (folder:drawing/copy.jpg), painting (folder:painting/0.jpg)"

    left_out = harvest(FolderSource(src), root, FAST, progress=False)
    assert left_out.dropped_by_reason == {"label_conflict": 2}
    assert (f"1 image recorded under two mediums left out, every copy ({pair}): harvest again "
            "with --keep-unlabelled to keep one copy of each") in left_out.text()
    summary = json.loads((root / "harvest_summary_folder.json").read_text())
    assert summary["label_conflicts"] == [pair]
    pd.DataFrame({"id": ["folder:painting/0.jpg"], "label": ["painting"]}).to_csv(
        workdir / "early.csv", index=False)
    with pytest.raises(DatasetError, match=re.escape(
            "no work 'folder:painting/0.jpg' in " f"{root}; it is a copy of an image recorded "
            "under two mediums, which the harvest left out: harvest again with "
            "--keep-unlabelled")):
        merge_labels(root, workdir / "early.csv")

    kept = harvest(FolderSource(src), root, keeping, progress=False)
    manifest = read_manifest(root).set_index("id")
    assert manifest.loc["folder:drawing/copy.jpg", "label"] == ""
    assert pair in manifest.loc["folder:drawing/copy.jpg", "label_reason"]
    assert "folder:painting/0.jpg" not in manifest.index and kept.unlabelled == 1
    assert f"1 image recorded under two mediums kept unlabelled, one copy each ({pair})" \
        in kept.text()
    again = harvest(FolderSource(src), root, FAST, progress=False)   # stays, as unlabelled works do
    assert read_manifest(root).set_index("id").loc["folder:drawing/copy.jpg", "label"] == ""
    assert again.label_conflicts == [pair]
    with pytest.raises(DatasetError, match=re.escape(
            "its image is kept, unlabelled, as 'folder:drawing/copy.jpg' (one image recorded "
            "under two mediums): give the medium to that id")):
        merge_labels(root, workdir / "early.csv")

    pd.DataFrame({"id": ["folder:drawing/copy.jpg"], "label": ["oil on canvas"]}).to_csv(
        workdir / "sheet.csv", index=False)
    assert merge_labels(root, workdir / "sheet.csv").labelled == 1
    for settings in (FAST, keeping):      # the curator's medium stands, harvest after harvest
        settled = harvest(FolderSource(src), root, settings, progress=False)
        manifest = read_manifest(root).set_index("id")
        assert manifest.loc["folder:drawing/copy.jpg", "label"] == "painting"
        assert "folder:painting/0.jpg" not in manifest.index
        assert settled.dropped_by_reason == {"duplicate": 1} and not settled.label_conflicts
        assert not any("two mediums" in note for note in settled.notes)


def test_works_whose_files_are_gone_are_counted_left_out_on_request_and_taken_back(workdir):
    """A curator removes a wrong scan: the harvest says so and, with forget_gone, leaves it
    out; a file put back is taken in again; another --from's works are never gone."""
    import dataclasses

    from mediumnet.harvest.engine import reparse

    src, other, root = workdir / "src", workdir / "other", workdir / "ds"
    for i, medium in enumerate(["painting", "drawing", "painting"]):
        (src / medium).mkdir(parents=True, exist_ok=True)
        (src / medium / f"{i}.jpg").write_bytes(make_jpeg(900 + i))
    (other / "drawing").mkdir(parents=True)
    (other / "drawing" / "9.jpg").write_bytes(make_jpeg(909))
    harvest(FolderSource(src), root, FAST, progress=False)
    harvest(FolderSource(other), root, FAST, progress=False)
    complete = read_manifest(root).set_index("id")

    (src / "painting" / "2.jpg").rename(workdir / "2.jpg")
    kept = harvest(FolderSource(src), root, FAST, progress=False)
    assert (f"1 work harvested before is no longer in {src} (folder:painting/2.jpg): kept, "
            "with the images the data set holds; --forget-gone leaves it out") in kept.notes
    assert len(read_manifest(root)) == 4

    forgetting = dataclasses.replace(FAST, forget_gone=True)
    left_out = harvest(FolderSource(src), root, forgetting, progress=False)
    assert sorted(read_manifest(root)["id"]) == ["folder:drawing/1.jpg", "folder:drawing/9.jpg",
                                                 "folder:painting/0.jpg"]  # other's kept
    assert left_out.dropped_by_reason == {"gone_from_source": 1}
    assert (f"1 work no longer in {src} left out (folder:painting/2.jpg); a file put back is "
            "taken in again by the next harvest") in left_out.notes
    reparse(FolderSource(src), root, FAST)       # judged again offline: still out
    assert len(read_manifest(root)) == 3

    (workdir / "2.jpg").rename(src / "painting" / "2.jpg")
    back = harvest(FolderSource(src), root, forgetting, progress=False)
    assert back.dropped_by_reason == {} and back.added == 1
    again = read_manifest(root).set_index("id")
    assert sorted(again.index) == sorted(complete.index)
    assert again.loc["folder:painting/2.jpg", ["label", "sha256", "image_path"]].tolist() == \
        complete.loc["folder:painting/2.jpg", ["label", "sha256", "image_path"]].tolist()


def test_a_scan_moved_to_another_mediums_folder_keeps_its_split_and_a_deleted_copy_settles(
        workdir):
    """Moving a file into the right medium's folder corrects its medium (it used to make one
    image under two mediums, both dropped); deleting the wrong copy of a conflicted image
    settles it."""
    from mediumnet.data.manifest import write_manifest

    src, root = workdir / "src", workdir / "ds"
    for i, medium in enumerate(["painting", "drawing", "painting"]):
        (src / medium).mkdir(parents=True, exist_ok=True)
        (src / medium / f"{i}.jpg").write_bytes(make_jpeg(920 + i))
    (src / "drawing" / "copy.jpg").write_bytes((src / "painting" / "0.jpg").read_bytes())
    first = harvest(FolderSource(src), root, FAST, progress=False)
    assert first.kept == 2 and first.dropped_by_reason == {"label_conflict": 2}
    split = read_manifest(root)
    split["split"] = ["train", "test"]            # as mediumnet split
    write_manifest(root, split)

    (src / "drawing" / "copy.jpg").unlink()       # the wrong copy
    (src / "painting" / "2.jpg").rename(src / "drawing" / "2.jpg")   # a drawing after all
    settled = harvest(FolderSource(src), root, FAST, progress=False)
    manifest = read_manifest(root).set_index("id")
    assert manifest[["label", "split"]].to_dict("index") == {
        "folder:drawing/1.jpg": {"label": "drawing", "split": "train"},
        "folder:drawing/2.jpg": {"label": "drawing", "split": "test"},
        "folder:painting/0.jpg": {"label": "painting", "split": ""}}
    assert "label_conflict" not in settled.dropped_by_reason
    assert (f"1 work has no split yet: run mediumnet split {root} to give it one (the splits "
            "the others have are kept); until then training leaves it out") in settled.notes
    assert (f"2 works no longer in {src} have their image under another path "
            "(folder:drawing/copy.jpg -> folder:painting/0.jpg, folder:painting/2.jpg -> "
            "folder:drawing/2.jpg: moved, or a copy deleted): that path's record stands, with "
            "its folder's medium and the split of the one gone") in settled.notes


def test_a_row_gone_from_a_csv_is_a_work_gone(workdir):
    import dataclasses

    (workdir / "imgs").mkdir()
    for i in range(3):
        (workdir / "imgs" / f"{i}.jpg").write_bytes(make_jpeg(950 + i))
    rows = ["path,label", "imgs/0.jpg,painting", "imgs/1.jpg,drawing", "imgs/2.jpg,drawing"]
    (workdir / "list.csv").write_text("\n".join(rows) + "\n")
    root = workdir / "ds"
    harvest(FolderSource(workdir / "list.csv"), root, FAST, progress=False)
    (workdir / "list.csv").write_text("\n".join(rows[:3]) + "\n")   # its file stays
    forgetting = dataclasses.replace(FAST, forget_gone=True)
    result = harvest(FolderSource(workdir / "list.csv"), root, forgetting, progress=False)
    assert result.dropped_by_reason == {"gone_from_source": 1}
    assert sorted(read_manifest(root)["id"]) == ["folder:imgs/0.jpg", "folder:imgs/1.jpg"]


def test_a_second_folder_with_the_same_file_names_adds_its_works(workdir):
    """Two camera rolls into one data set: the second's IMG_0001.jpg is its own work (it was
    taken for the first's, found settled and never read); a copy of a kept file is not."""
    first, second, root = workdir / "roll1", workdir / "roll2", workdir / "ds"
    for roll in (first, second):
        (roll / "painting").mkdir(parents=True)
    for i in range(2):
        (first / "painting" / f"IMG_000{i}.jpg").write_bytes(make_jpeg(960 + i))
    (second / "painting" / "IMG_0000.jpg").write_bytes(make_jpeg(970))      # another scan
    (second / "painting" / "IMG_0001.jpg").write_bytes(                      # the same scan
        (first / "painting" / "IMG_0001.jpg").read_bytes())
    harvest(FolderSource(first), root, FAST, progress=False)
    added = harvest(FolderSource(second), root, FAST, progress=False)
    ids = sorted(read_manifest(root)["id"])
    assert len(ids) == 3 and added.added == 1
    qualified = next(work for work in ids if "~" in work)
    assert qualified.startswith("folder:roll2~") and qualified.endswith("/painting/IMG_0000.jpg")
    assert (f"1 path of {second} is also a path of another folder harvested into this data set "
            "(painting/IMG_0000.jpg): each is a work of its own, named folder:roll2~") \
        in added.notes[-1]
    again = harvest(FolderSource(second), root, FAST, progress=False)
    assert sorted(read_manifest(root)["id"]) == ids and again.added == 0
    assert not any("no longer in" in note for note in again.notes)   # roll1's are not gone


def test_a_harvest_refused_for_its_folder_leaves_the_data_sets_state_as_it_was(workdir):
    """`--from` a folder with no images used to record it as the data set's source: the next
    --offline was refused ("harvested with other settings") and the finished listing undone."""
    from mediumnet.harvest.engine import reparse

    src, empty, root = _tree(workdir), workdir / "empty", workdir / "ds"
    empty.mkdir()
    harvest(FolderSource(src), root, FAST, progress=False)
    state = (root / "harvest_state.json").read_bytes()
    with pytest.raises(DatasetError, match="no images found in"):
        harvest(FolderSource(empty), root, FAST, progress=False)
    assert (root / "harvest_state.json").read_bytes() == state
    assert reparse(FolderSource(src), root, FAST).kept == 5


def test_a_data_set_inside_the_folder_it_harvests_is_not_read_as_works(workdir):
    """`harvest folder data --from .`: the data set's copies and logs are not the curator's."""
    import dataclasses

    for i, medium in enumerate(["painting", "drawing", "drawing"]):
        (workdir / medium).mkdir(exist_ok=True)
        (workdir / medium / f"{i}.jpg").write_bytes(make_jpeg(700 + i))
    keeping = dataclasses.replace(FAST, keep_unlabelled=True)
    first = harvest(FolderSource(workdir), workdir / "data", keeping, progress=False)
    again = harvest(FolderSource(workdir), workdir / "data", keeping, progress=False)
    for result in (first, again):   # before: 6 examined, 3 duplicates, 5 files "not read"
        assert (result.seen, result.kept, result.duplicates) == (3, 3, 0)
        assert not any(n.startswith("not read") for n in result.notes)
    assert len(read_manifest(workdir / "data")) == 3

    with pytest.raises(DatasetError, match=re.escape(
            f"{workdir} is the folder the images come from (--from {workdir}): the harvest "
            "would read its own copies as works; harvest into a folder of its own, such as "
            f"{workdir / 'dataset'}")):
        harvest(FolderSource(workdir), workdir, FAST, progress=False)
    assert not (workdir / "raw").exists() and not (workdir / "images").exists()


def test_a_damaged_manifest_is_built_again_by_the_commands_its_error_gives(workdir,
                                                                           mediumnet_exe):
    """An interrupted copy leaves a manifest cut short; the error says how to build it again."""
    from mediumnet.data.synth.write import synthesize
    from mediumnet.settings import SynthConfig

    for i, medium in enumerate(["painting", "drawing"]):
        (workdir / "scans" / medium).mkdir(parents=True)
        (workdir / "scans" / medium / f"{i}.jpg").write_bytes(make_jpeg(800 + i))
    root = workdir / "ds"
    harvest(FolderSource(workdir / "scans"), root, FAST, progress=False)
    synthesize(root, SynthConfig(per_class=1, width=400, height=320, seed=3, workers=1,
                                 mediums=("painting", "photography")), progress=False)
    whole = read_manifest(root)
    manifest = root / "manifest.parquet"
    manifest.write_bytes(manifest.read_bytes()[:200])

    out = subprocess.run([mediumnet_exe, "split", "ds"], cwd=workdir, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 1
    error = out.stderr.strip()
    assert error.startswith("mediumnet: error: cannot read manifest ds/manifest.parquet "
                            "(ArrowInvalid): the file is damaged; move it aside (mv "
                            "ds/manifest.parquet ds/manifest.parquet.damaged) and build it "
                            "again from the logs in ds/raw: ")
    commands = error.split("ds/raw: ", 1)[1].split(" (each with", 1)[0].split("; ")
    assert commands == [f"mediumnet harvest folder ds --offline --from {workdir / 'scans'}",
                        "mediumnet synth ds --seed 3 --per-class 1 --size 400x320 --mediums "
                        "painting,photography"]
    manifest.rename(root / "manifest.parquet.damaged")             # as the error says
    for command in commands:
        done = subprocess.run([mediumnet_exe, *shlex.split(command)[1:]], cwd=workdir,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(read_manifest(root).sort_values("id", ignore_index=True),
                                  whole.sort_values("id", ignore_index=True))


def test_a_csv_listing_a_work_twice_takes_it_once_and_refuses_two_mediums(workdir):
    """A merged export or a row pasted again: one work, the row that names its medium."""
    (workdir / "imgs").mkdir()
    for i in range(2):
        (workdir / "imgs" / f"{i}.png").write_bytes(make_jpeg(900 + i))
    (workdir / "list.csv").write_text("path,label\nimgs/0.png,painting\nimgs/1.png,\n"
                                      "imgs/0.png,Oil on canvas\nimgs/1.png,Pen and ink\n")
    result = harvest(FolderSource(workdir / "list.csv"), workdir / "ds", FAST, progress=False)
    assert (result.seen, result.kept) == (2, 2)
    assert ("listed more than once in list.csv: 2 paths (imgs/0.png, imgs/1.png), each taken "
            "once") in result.notes
    manifest = read_manifest(workdir / "ds").set_index("id")
    assert manifest.loc["folder:imgs/0.png", "label_reason"] == "given as 'painting'"
    assert manifest.loc["folder:imgs/1.png", "label"] == "drawing"   # not the empty row's

    before = (workdir / "ds" / "manifest.parquet").read_bytes()
    (workdir / "torn.csv").write_text("path,label\nimgs/0.png,painting\nimgs/0.png,Woodcut\n"
                                      "imgs/1.png,drawing\nimgs/1.png,photograph\n")
    with pytest.raises(DatasetError, match=re.escape(
            f"{workdir / 'torn.csv'} gives imgs/0.png 2 rows of different mediums (painting, "
            "engraving); so is 1 more path: keep the row of the medium it is, or leave its "
            "label empty")):
        harvest(FolderSource(workdir / "torn.csv"), workdir / "ds", FAST, progress=False)
    assert (workdir / "ds" / "manifest.parquet").read_bytes() == before


def test_folder_csv(workdir):
    (workdir / "imgs").mkdir()
    lines = ["path,label,artist"]
    for i, label in enumerate(["painting", "drawing", "gouache", "Woodcut",
                               "prints and drawings", "Watercolor over graphite"]):
        (workdir / "imgs" / f"{i}.png").write_bytes(make_jpeg(500 + i))
        lines.append(f"imgs/{i}.png,{label},Hand {i}")
    (workdir / "list.csv").write_text("\n".join(lines) + "\n")
    result = harvest(FolderSource(workdir / "list.csv"), workdir / "ds", FAST, progress=False)
    assert result.kept == 5 and result.dropped_by_reason == {"unknown_label": 1}
    manifest = read_manifest(workdir / "ds").set_index("id")
    assert manifest.loc["folder:imgs/2.png", "label"] == "gouache_watercolor"
    assert manifest.loc["folder:imgs/3.png", "label"] == "engraving"   # a technique of one
    assert "folder:imgs/4.png" not in manifest.index                   # names two
    assert manifest.loc["folder:imgs/5.png", "label"] == "gouache_watercolor"  # one work's
    assert manifest.loc["folder:imgs/1.png", "artist"] == "Hand 1"


def test_a_csv_written_on_windows_finds_its_images(workdir):
    (workdir / "export" / "scans").mkdir(parents=True)
    for i in range(2):
        (workdir / "export" / "scans" / f"{i}.png").write_bytes(make_jpeg(520 + i))
    (workdir / "export" / "list.csv").write_text(
        "path,label\r\nscans\\0.png,painting\r\nscans\\1.png,woodcut\r\n"
        "scans\\2.png,drawing\r\nscans,drawing\r\n")
    result = harvest(FolderSource(workdir / "export" / "list.csv"), workdir / "ds", FAST,
                     progress=False)
    manifest = read_manifest(workdir / "ds").set_index("id")
    assert manifest["label"].to_dict() == {"folder:scans\\0.png": "painting",
                                           "folder:scans\\1.png": "engraving"}
    assert result.failed_examples == {   # a file that is not there is named as written
        "missing_file": f"folder:scans\\2.png: {workdir / 'export'}/scans\\2.png does not exist",
        "not_an_image": f"folder:scans: {workdir / 'export'}/scans is a folder, not an image "
                        "file: write the path of an image in it"}
    # Absolute paths of the machine that wrote it: said so, with what to write instead.
    (workdir / "export" / "absolute.csv").write_text(
        "path,label\r\nC:\\Collections\\scans\\0.png,painting\r\n"
        "\\\\server\\share\\scans\\1.png,painting\r\n")
    result = harvest(FolderSource(workdir / "export" / "absolute.csv"), workdir / "ds2", FAST,
                     progress=False)
    assert result.failed_by_reason == {"missing_file": 2}
    assert result.failed_examples["missing_file"] == (
        "folder:C:\\Collections\\scans\\0.png: C:\\Collections\\scans\\0.png is a path on a "
        "Windows drive or share; write each path relative to the CSV's folder, "
        f"{workdir / 'export'}, with the images there")


def _scan16(seed: int) -> Image.Image:
    """A 16-bit greyscale scan, as archives keep masters: every level far above 255."""
    import numpy as np

    y, x = np.mgrid[0:240, 0:320]
    wave = np.sin(x / (9 + 4 * seed) + seed) * np.cos(y / (7 + 3 * seed))
    return Image.fromarray(((wave + 1) / 2 * 50_000 + 5_000).astype("uint16"))


def test_an_archives_masters_are_kept_whole(workdir, monkeypatch):
    """16-bit scans, files over the download cap and headers of too many pixels, as a folder
    of TIFF masters holds them. Before, every 16-bit scan hashed alike (clipped to white) and
    all six were dropped as one image under two labels; a file over 64 MB failed as too_large
    on every run, named nowhere."""
    import dataclasses
    import struct
    import warnings
    import zlib

    src = workdir / "masters"
    for medium, seeds in (("prints", (0, 1, 2)), ("photographs", (3, 4, 5))):
        (src / medium).mkdir(parents=True)
        for seed in seeds:
            _scan16(seed).save(src / medium / f"scan{seed}.tif")
    (src / "prints" / "scan0_again.tif").write_bytes((src / "prints" / "scan0.tif").read_bytes())

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    def header_only(width: int, height: int) -> bytes:
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
            ">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")

    # 224 million pixels declared: more than any branch takes
    (src / "prints" / "mural.png").write_bytes(header_only(16_000, 14_000))
    # 108 million, within the branches' limit (Pillow's own default warns at 89 million)
    (src / "photographs" / "torn.png").write_bytes(header_only(12_000, 9_000))
    small_cap = dataclasses.replace(FAST, max_image_bytes=100_000)   # every scan is ~154 kB
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)  # as in a fresh process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = harvest(FolderSource(src), workdir / "ds", small_cap, progress=False)
    assert not [w for w in caught if "108000000 pixels" in str(w.message)]

    manifest = read_manifest(workdir / "ds")
    assert sorted(manifest["id"]) == sorted(
        f"folder:{m}/scan{s}.tif" for m, seeds in (("prints", (0, 1, 2)),
                                                    ("photographs", (3, 4, 5))) for s in seeds)
    assert result.kept_by_medium["engraving"] == result.kept_by_medium["photography"] == 3
    assert result.dropped_by_reason == {"duplicate": 1}               # the copy, and only it
    assert result.failed_by_reason == {"too_many_pixels": 1, "corrupt": 1}  # no pixel data
    assert ("too_many_pixels, e.g. folder:prints/mural.png: 16000x14000 is more than "
            "200,000,000 pixels") in result.text()
    summary = json.loads((workdir / "ds" / "harvest_summary_folder.json").read_text())
    assert summary["failed_examples"]["too_many_pixels"] == (
        "folder:prints/mural.png: 16000x14000 is more than 200,000,000 pixels")


def _scan8(seed: int) -> Image.Image:
    """The scan of :func:`_scan16` in 8-bit RGB, as a JPEG 2000 or BMP file holds it."""
    import numpy as np

    return Image.fromarray((np.asarray(_scan16(seed)) // 256).astype("uint8")).convert("RGB")


def test_jpeg_2000_masters_are_kept_and_what_is_not_read_is_said(workdir):
    """A folder as a lab's share holds it: JPEG 2000 masters (before: not listed, and a folder
    of only those was "no images found"), camera raw files and XMP sidecars beside them,
    macOS's ._ copies, a thumbnail cache, and a scan left beside the medium folders."""
    from mediumnet.serving.score import read_input

    src = workdir / "share"
    for medium, seeds in (("prints", (0, 1)), ("photographs", (2, 3))):
        (src / medium).mkdir(parents=True)
        for seed in seeds:
            _scan8(seed).save(src / medium / f"scan{seed}.jp2")
            (src / medium / f"scan{seed}.IIQ").write_bytes(b"IIII" + bytes(64))
            (src / medium / f"scan{seed}.xmp").write_text("<x:xmpmeta/>")
            (src / medium / f"._scan{seed}.jp2").write_bytes(b"\0\5\26\7" + bytes(60))
    _scan8(5).save(src / "prints" / "scan5.bmp")
    (src / ".thumbnails").mkdir()
    (src / ".thumbnails" / "scan0.jpg").write_bytes(make_jpeg(1))
    (src / "Thumbs.db").write_bytes(b"\0" * 32)
    (src / "loose.jpg").write_bytes(make_jpeg(2))

    result = harvest(FolderSource(src), workdir / "ds", FAST, progress=False)
    manifest = read_manifest(workdir / "ds")
    assert sorted(manifest["id"]) == ["folder:photographs/scan2.jp2",
                                      "folder:photographs/scan3.jp2", "folder:prints/scan0.jp2",
                                      "folder:prints/scan1.jp2", "folder:prints/scan5.bmp"]
    assert not result.failed_by_reason and not result.dropped_by_reason
    said = ["not read: 8 files of types mediumnet does not read (.iiq 4, .xmp 4; an image in "
            "another format, such as camera raw or PSD, is read once saved as TIFF, JPEG or "
            "PNG); 5 hidden files named as images (such as macOS's ._ copies)",
            "not read: 1 image directly in " + str(src) + ", in no <medium>/ folder; move each "
            "into the folder of its medium"]
    assert [f"  note:    {line}" for line in said] == [
        line for line in result.text().splitlines() if line.startswith("  note:")]
    summary = json.loads((workdir / "ds" / "harvest_summary_folder.json").read_text())
    assert (summary["notes"], summary["added"]) == (said, 5)   # the file says what was printed

    rows, _ = read_input(src / "prints")                       # score reads what harvest reads
    assert [Path(p).name for p in rows["path"]] == ["scan0.jp2", "scan1.jp2", "scan5.bmp"]

    raw_only = workdir / "raw_only" / "prints"
    raw_only.mkdir(parents=True)
    (raw_only / "a.iiq").write_bytes(b"IIII")
    with pytest.raises(MediumnetError, match=r"no images found in .*raw_only: expected .* \(found "
                                             r"1 file of types mediumnet does not read \(\.iiq 1"):
        FolderSource(raw_only.parent).open()
    with pytest.raises(MediumnetError, match=r"prints: no image files \(JPEG, PNG, TIFF, WebP, "
                                             r"JPEG 2000, HEIC, AVIF, BMP or GIF\) in this "
                                             r"folder; found 1 file of types mediumnet does not"):
        read_input(raw_only)


def test_a_phones_heic_photographs_and_avif_files_are_kept_upright(workdir):
    """A curator's photographs of works in the stores, as a phone names them (IMG_0001.HEIC,
    taken turned a quarter), and AVIF files from a web collection: before, "not read"."""
    import pillow_heif

    from mediumnet.serving.score import read_input

    src = workdir / "stores"
    turned = Image.Exif()
    turned[0x0112] = 6
    for medium, seeds in (("prints", (0, 1)), ("photographs", (2, 3))):
        (src / medium).mkdir(parents=True)
        pillow_heif.from_pillow(_scan8(seeds[0]).resize((120, 80))).save(
            src / medium / f"IMG_000{seeds[0]}.HEIC", quality=90, exif=turned.tobytes())
        _scan8(seeds[1]).resize((120, 80)).save(src / medium / f"web{seeds[1]}.avif", quality=90)

    result = harvest(FolderSource(src), workdir / "ds", FAST, progress=False)
    assert not result.failed_by_reason and "not read" not in result.text()
    manifest = read_manifest(workdir / "ds").set_index("id")
    assert sorted(manifest.index) == ["folder:photographs/IMG_0002.HEIC",
                                      "folder:photographs/web3.avif",
                                      "folder:prints/IMG_0000.HEIC", "folder:prints/web1.avif"]
    stored = manifest["image_path"].map(lambda p: Path(p).suffix).to_dict()
    assert stored["folder:prints/IMG_0000.HEIC"] == ".heic"
    assert stored["folder:prints/web1.avif"] == ".avif"
    upright = manifest.loc["folder:prints/IMG_0000.HEIC", ["width", "height"]].tolist()
    assert upright == [80, 120]                                 # as the phone showed it
    rows, _ = read_input(src / "prints")
    assert [Path(p).name for p in rows["path"]] == ["IMG_0000.HEIC", "web1.avif"]


def test_scans_a_data_set_holds_as_one_image_are_told_apart_by_its_next_harvest(workdir):
    """A data set harvested before the fix holds every 16-bit scan with the flat hash, so
    they merge; harvesting the same folder again takes the hash again from the stored image."""
    src = workdir / "masters"
    for medium, seeds in (("prints", (0, 1)), ("photographs", (2, 3))):
        (src / medium).mkdir(parents=True)
        for seed in seeds:
            _scan16(seed).save(src / medium / f"scan{seed}.tif")
    root = workdir / "ds"
    harvest(FolderSource(src), root, FAST, progress=False)
    log = root / "raw" / "folder-outcomes.jsonl"
    stale = [json.loads(line) for line in log.read_text().splitlines()]
    for outcome in stale:                       # as the old harvest stored them
        outcome["row"]["phash"] = "0" * 16
    log.write_text("".join(json.dumps(o) + "\n" for o in stale))

    again = harvest(FolderSource(src), root, FAST, progress=False)
    assert again.kept == 4 and again.dropped_by_reason == {}
    assert read_manifest(root)["phash"].nunique() == 4


def _export(workdir: Path) -> Path:
    """A collection system's export as a spreadsheet saves it: its own headers, semicolons,
    a byte-order mark, a quoted title holding the separator."""
    (workdir / "scans").mkdir()
    rows = [("1921.3", "Harbour; evening", "Sargent", "Watercolor over graphite"),
            ("1921.4", "Two trees", "Dürer", "Woodcut"),
            ("1921.5", "Album page", "", ""),
            ("1921.6", "Folio", "", "Prints and drawings")]
    lines = ["Object Number;Title;Artist Display Name;Medium;Image File"]
    for i, (number, title, artist, medium) in enumerate(rows):
        (workdir / "scans" / f"{number}.png").write_bytes(make_jpeg(700 + i))
        lines.append(f'{number};"{title}";{artist};{medium};scans/{number}.png')
    export = workdir / "export.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return export


def test_a_collection_systems_export_is_read_by_its_own_headers(workdir, mediumnet_exe):
    export = _export(workdir)
    out = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(export),
                          "--column", "label=Medium", "--column", "path=image file",
                          "--column", "artist=Artist Display Name", "--column", "title=Title",
                          "--keep-unlabelled"],
                         cwd=workdir, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    manifest = read_manifest(workdir / "ds").set_index("id")
    harbour = manifest.loc["folder:scans/1921.3.png"]
    trees = manifest.loc["folder:scans/1921.4.png"]
    assert (harbour["label"], harbour["title"], harbour["artist"]) == (
        "gouache_watercolor", "Harbour; evening", "Sargent")
    assert harbour["medium_text"] == "Watercolor over graphite"   # the record's own words
    assert trees["label"] == "engraving" and trees["artist"] == "Dürer"
    assert manifest.loc["folder:scans/1921.5.png", "label_reason"] == "no label given"
    assert manifest.loc["folder:scans/1921.6.png", "label_reason"] == (
        "given as 'Prints and drawings': names engraving, drawing")


@pytest.mark.parametrize(("args", "message"), [
    (["--column", "label=Technique"], "export.csv has no column 'Technique' (--column "
     "label=Technique); its columns: Object Number, Title, Artist Display Name, Medium, "
     "Image File"),
    (["--column", "label=Medium"], "export.csv needs the columns path and label, or --column "
     "path=HEADER for the one that holds the image file"),
    (["--column", "medium=Medium"], "--column medium=…: no such field; give one of path, "
     "label, artist, title"),
    (["--column", "label"], "--column label: write FIELD=HEADER"),
])
def test_a_wrong_column_mapping_is_one_line_and_writes_no_data_set(workdir, mediumnet_exe,
                                                                    args, message):
    export = _export(workdir)
    out = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(export),
                          *args], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("mediumnet: error: ") and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (workdir / "ds" / "manifest.parquet").exists()


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root / "nowhere", "no such folder or file"),
    (lambda root: (root / "latin.csv").write_bytes(b"path,label\nimgs/caf\xe9.png,painting\n")
     and root / "latin.csv", "latin.csv is not UTF-8 text (byte 20): save it as CSV UTF-8"),
    (lambda root: (root / "f.txt").write_text("x") and root / "f.txt", "give a folder"),
    (lambda root: (root / "bad.csv").write_text("file,medium\na,b\n") and root / "bad.csv",
     "needs the columns path and label"),
    (lambda root: (root / "empty").mkdir() or root / "empty", "no images found in"),
])
def test_folder_bad_input(workdir, mediumnet_exe, make, message):
    src = make(workdir)
    out = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(src)],
                         cwd=workdir, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("mediumnet: error: ") and message in out.stderr
    assert out.stderr.count("\n") == 1


def test_a_harvest_that_keeps_nothing_fails_saying_why_and_the_next_run_goes_on(
        workdir, mediumnet_exe):
    def harvest_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([mediumnet_exe, "harvest", "folder", *args], cwd=workdir,
                              capture_output=True, text=True, timeout=120)

    # Every image the CSV names is missing (its paths were written on another machine).
    (workdir / "missing.csv").write_text("path,label\nimgs/a.png,painting\nimgs/b.png,woodcut\n")
    out = harvest_cli("ds", "--from", "missing.csv")
    assert out.returncode == 1, out.stdout
    assert out.stderr == (
        f"mediumnet: error: nothing harvested into {workdir / 'ds'}: 2 records examined, none "
        "kept (failed: missing_file 2); put right what the lines above name and run again "
        "(failed records are tried again)\n")
    assert "missing_file, e.g. folder:imgs/a.png" in out.stdout      # the lines above
    (workdir / "imgs").mkdir()
    for i, name in enumerate("ab"):
        (workdir / "imgs" / f"{name}.png").write_bytes(make_jpeg(700 + i))
    again = harvest_cli("ds", "--from", "missing.csv")
    assert again.returncode == 0, again.stderr
    assert "2 records examined, 2 kept (2 new)" in again.stdout

    # Every record names no medium that maps: dropped, unless kept unlabelled.
    (workdir / "vague.csv").write_text("path,label\nimgs/a.png,collage\nimgs/b.png,\n")
    out = harvest_cli("vague", "--from", "vague.csv")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "2 records examined, none kept (dropped: " in out.stderr
    assert out.stderr.endswith("; --keep-unlabelled keeps the works whose record names no "
                               "medium that maps\n")
    kept = harvest_cli("vague", "--from", "vague.csv", "--keep-unlabelled")   # as it says
    assert kept.returncode == 0, kept.stderr
    assert "2 records dropped before for naming no medium that maps, judged again" in kept.stdout
    assert "unlabelled 2" in kept.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["met", "ds", "--department-ids", "nine"],
     "--department-ids 'nine': give numbers separated by commas"),
    (["artsy", "ds", "--api-url", "http://127.0.0.1:9/api"], "Artsy needs credentials"),
    (["artic", "ds", "--api-url", "http://127.0.0.1:9/api/v1", "--set",
      "harvest.backoff=0.01"], "the Art Institute of Chicago API at"),
    (["met", "ds", "--api-url", "http://127.0.0.1:9/v1", "--set", "harvest.backoff=0.01"],
     "the Met API at http://127.0.0.1:9/v1 does not answer"),
])
def test_harvest_cli_bad_input(workdir, mediumnet_exe, monkeypatch, args, message):
    monkeypatch.delenv("ARTSY_CLIENT_ID", raising=False)
    monkeypatch.delenv("ARTSY_CLIENT_SECRET", raising=False)
    out = subprocess.run([mediumnet_exe, "harvest", *args], cwd=workdir, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("mediumnet: error: ") and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1


def test_failed_downloads_are_tried_again_without_listing_again(apis, workdir):
    serve_artsy_pages(apis, five_kinds(apis, repeat=1), page_size=10)
    flaky = next(k for k in apis.routes if k.startswith("/cdn/") and k.endswith("normalized.jpg"))
    apis.faults[flaky].extend([("status", 503)] * (FAST.retries + 1))
    first = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert first.kept == 4 and first.failed_by_reason == {"download_http_503": 1}
    assert first.complete
    def fetched(path):
        return sum(e.path == path for e in apis.log)

    images = {k: fetched(k) for k in apis.routes if k.startswith("/cdn/")}
    second = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert second.kept == 5 and second.failed_by_reason == {}
    # The failed image is fetched again; no image of a settled work is.
    again = {k: fetched(k) - n for k, n in images.items()}
    assert again.pop(flaky) == 1 and set(again.values()) == {0}


def test_reparse_needs_no_network(apis, workdir):
    works = five_kinds(apis, repeat=1)
    works.append(artsy_artwork(apis, 60, "Painting", "Oil on canvas", depth=8.0))
    serve_artsy_pages(apis, works, page_size=3)
    first = harvest(artsy(apis), workdir / "ds", FAST, progress=False)
    assert first.kept == 5 and first.dropped_by_reason == {"three_dimensional": 1}
    before = read_manifest(workdir / "ds")
    requests_so_far = len(apis.log)

    from mediumnet.harvest.engine import reparse
    same = reparse(artsy(apis), workdir / "ds", FAST)
    pd.testing.assert_frame_equal(read_manifest(workdir / "ds"), before)
    assert same.kept == 5

    loose = HarvestConfig(**{**FAST.__dict__, "max_depth_ratio": 0.5})
    relabelled = reparse(artsy(apis), workdir / "ds", loose)
    assert relabelled.kept == 5
    assert relabelled.failed_by_reason == {"not_downloaded": 1}
    assert "three_dimensional" not in relabelled.dropped_by_reason
    assert len(apis.log) == requests_so_far  # not one request

    fetched = harvest(artsy(apis), workdir / "ds", loose, progress=False)
    assert fetched.kept == 6 and fetched.failed_by_reason == {}


def test_reparse_without_raw_answers_is_a_clear_error(workdir, mediumnet_exe):
    (workdir / "src" / "painting").mkdir(parents=True)
    out = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", "src",
                          "--offline"], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "no raw answers of folder in" in out.stderr and "harvest it first" in out.stderr


# -- data sets that grow ----------------------------------------------------------------------

def _csv(root: Path, name: str, n: int) -> Path:
    """A CSV of the first ``n`` of 40 images in ``root/imgs`` (paths relative to the CSV)."""
    (root / "imgs").mkdir(exist_ok=True)
    labels = ["painting", "drawing", "photography", "engraving"]
    lines = ["path,label,artist"]
    for i in range(n):
        image = root / "imgs" / f"{i}.jpg"
        if not image.exists():
            image.write_bytes(make_jpeg(700 + i))
        lines.append(f"imgs/{i}.jpg,{labels[i % 4]},Hand {i % 7}")
    (root / name).write_text("\n".join(lines) + "\n")
    return root / name


def test_a_folder_harvest_adds_what_a_larger_csv_brings(workdir, mediumnet_exe):
    first = _csv(workdir, "first.csv", 15)
    everything = _csv(workdir, "all.csv", 40)
    done = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(first)],
                          cwd=workdir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(read_manifest(workdir / "ds")) == 15
    before = read_manifest(workdir / "ds").set_index("id")
    done = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(everything)],
                          cwd=workdir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(workdir / "ds").set_index("id")
    assert len(manifest) == 40
    pd.testing.assert_frame_equal(manifest.loc[before.index], before)   # kept as it was
    assert "40 kept (25 new)" in done.stdout
    assert "new source settings" in done.stdout and "the 15 records examined before" \
        in done.stdout


def test_an_offline_harvest_cannot_take_a_new_source_in_one_line(workdir, mediumnet_exe):
    harvest(FolderSource(_csv(workdir, "first.csv", 6)), workdir / "ds", FAST, progress=False)
    before = read_manifest(workdir / "ds")
    other = _csv(workdir, "all.csv", 10)
    out = subprocess.run([mediumnet_exe, "harvest", "folder", "ds", "--from", str(other),
                          "--offline"], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "--offline judges again the records already logged" in out.stderr
    assert "drop --offline" in out.stderr
    pd.testing.assert_frame_equal(read_manifest(workdir / "ds"), before)


def test_a_limit_already_reached_is_said_not_ignored(workdir):
    src = _csv(workdir, "all.csv", 10)
    harvest(FolderSource(src), workdir / "ds", FAST, limit=5, progress=False)
    again = harvest(FolderSource(src), workdir / "ds", FAST, limit=5, progress=False)
    assert again.added == 0
    assert "--limit 5: 5 works of folder are kept already" in again.text()
    more = harvest(FolderSource(src), workdir / "ds", FAST, limit=8, progress=False)
    assert more.added == 3 and len(read_manifest(workdir / "ds")) == 8
