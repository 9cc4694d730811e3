"""A curator's collection, as the command line serves it: keep the unlabelled works, audit every
labelled one, classify the unlabelled with the champion, pick what to label next, take the
filled sheet back, and score the champion on a collection that was never split.

The collection is the stacked store's own synthetic set, harvested again from a CSV the way a
curator's export looks: five works with no usable medium (three empty, two "collage") and two
works whose recorded medium was swapped by mistake.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from mediumnet.labels import MEDIUMS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHAMPION = "models:/mediumnet-ensemble@champion"


def run(exe: str, *args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if ok:
        assert done.returncode == 0, f"{args}:\n{done.stderr[-3000:]}"
    return done


def _export(stacked, folder: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """Write the curator's CSV; return it and the real mediums of the unlabelled and swapped.

    Keys are the ids the folder harvest gives the works: ``folder:`` and the CSV's path.
    """
    manifest = pd.read_parquet(stacked.dataset / "manifest.parquet").sort_values("id")
    rows, unlabelled, swapped = [], {}, {}
    seen: dict[str, int] = {}
    for work in manifest.itertuples():
        n = seen.get(work.label, 0)
        seen[work.label] = n + 1
        label = work.label
        path = str(stacked.dataset / work.image_path)
        if n == 0:  # the first work of every medium: no usable medium in the record
            label = ("", "", "prints and drawings", "", "collage")[MEDIUMS.index(work.label)]
            unlabelled[f"folder:{path}"] = work.label
        elif n == 1 and work.label in ("painting", "photography"):  # swapped by mistake
            label = "photography" if work.label == "painting" else "painting"
            swapped[f"folder:{path}"] = work.label
        rows.append({"path": path, "label": label, "artist": work.artist})
    export = folder / "export.csv"
    with export.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["path", "label", "artist"])
        writer.writeheader()
        writer.writerows(rows)
    return export, unlabelled, swapped


@pytest.fixture
def curated(in_store, mediumnet_exe):
    """The export harvested with --keep-unlabelled and split, in the stacked store's folder."""
    home = in_store.home
    export, unlabelled, swapped = _export(in_store, home)
    dataset = home / "curated"
    if not (dataset / "manifest.parquet").is_file():
        out = run(mediumnet_exe, "harvest", "folder", "curated", "--from", str(export),
                  "--keep-unlabelled", cwd=home)
        assert "5 kept unlabelled" in out.stdout or "unlabelled" in out.stdout, out.stdout
        run(mediumnet_exe, "split", "curated", cwd=home)
    return home, dataset, unlabelled, swapped


def _manifest(dataset: Path) -> pd.DataFrame:
    return pd.read_parquet(dataset / "manifest.parquet")


def test_unlabelled_works_are_kept_with_their_reason_and_stay_out_of_every_split(curated):
    _, dataset, unlabelled, _ = curated
    manifest = _manifest(dataset)
    assert len(manifest) == 40
    kept = manifest[manifest["label"] == ""]
    assert len(kept) == len(unlabelled) == 5
    reasons = set(kept["label_reason"])
    assert "no label given" in " ".join(reasons)
    assert "'collage': no medium" in " ".join(reasons)
    assert "'prints and drawings': names engraving, drawing" in " ".join(reasons)
    assert kept["split"].isna().all() or (kept["split"].fillna("") == "").all()
    assert manifest.loc[manifest["label"] != "", "split"].isin(["train", "val", "test"]).all()


def test_without_the_flag_the_unlabelled_works_are_dropped_and_counted(in_store, mediumnet_exe,
                                                                      tmp_path):
    export, _, _ = _export(in_store, tmp_path)
    out = run(mediumnet_exe, "harvest", "folder", str(tmp_path / "plain"), "--from",
              str(export), cwd=in_store.home)
    assert len(_manifest(tmp_path / "plain")) == 35
    assert "unknown_label" in out.stdout + out.stderr


def test_the_audit_judges_every_labelled_work_and_flags_the_swapped_ones(curated,
                                                                       mediumnet_exe):
    home, dataset, _, swapped = curated
    out = run(mediumnet_exe, "audit", "curated", "--quiet", "--folds", "3", cwd=home)
    assert "of 35 labelled works flagged" in out.stdout
    assert "5 unlabelled works are not audited" in out.stdout
    table = pd.read_csv(dataset / "audit" / "audit.csv")
    assert len(table) == 35                             # train works included, unlabelled not
    manifest = _manifest(dataset)
    assert set(manifest.loc[manifest["split"] == "train", "id"]) < set(table["id"])
    assert {"id", "image_path", "label", "suggested_label", "score", "medium_text",
            "flagged"} <= set(table.columns)
    flagged = table[table["flagged"]]
    assert len(swapped) == 2
    for work_id, medium in swapped.items():
        row = table[table["id"] == work_id].iloc[0]
        assert bool(row["flagged"]), f"{work_id} was swapped but not flagged:\n{flagged}"
        assert row["suggested_label"] == medium
        # The printed list names each flagged work's artist, which a curator knows by sight.
        assert f"{work_id}  by {row['artist']}" in out.stdout
    assert table["rank"].tolist() == list(range(1, 36))
    assert table["flagged"].tolist() == sorted(table["flagged"], reverse=True)  # flags first
    page = (dataset / "audit" / "audit.html").read_text()
    assert page.count("<img") == len(table) and "data:image/jpeg;base64," in page

    run_row = mlflow.search_runs(experiment_names=["mediumnet"],
                                 filter_string="tags.`mediumnet.step` = 'audit'").iloc[0]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_row["run_id"],
                                                                       "audit")}
    assert {"audit/audit.csv", "audit/audit.html"} <= artifacts
    assert run_row["metrics.flagged"] == len(flagged)
    # The in-collection figure is the table's own: given label against suggested medium.
    own = f1_score(table["label"], table["suggested_label"], average="macro")
    assert abs(run_row["metrics.crossfit_macro_f1"] - own) < 1e-9
    assert f"out-of-fold macro-F1 {own:.3f}" in out.stdout



def test_classify_gives_the_unlabelled_works_a_medium_and_abstains_below_its_threshold(
        curated, mediumnet_exe, tmp_path):
    home, curated_dir, unlabelled, swapped = curated
    # The curator has put right the two swapped records first (the audit flags them): the
    # threshold is chosen on the validation works, and a photograph filed as a painting there
    # would hold the model's best answers below 95 % precision however good the model is.
    dataset = tmp_path / "checked"
    shutil.copytree(curated_dir, dataset)
    corrections = tmp_path / "corrections.csv"
    pd.DataFrame({"id": list(swapped), "label": list(swapped.values())}).to_csv(corrections,
                                                                                index=False)
    out = run(mediumnet_exe, "label", str(dataset), "--from", str(corrections), cwd=home)
    assert "2 relabelled" in out.stdout, out.stdout
    out = run(mediumnet_exe, "classify", str(dataset), cwd=home)
    assert "5 unlabelled works:" in out.stdout
    assert "validation works" in out.stdout and "abstained below confidence" in out.stdout
    table = pd.read_csv(dataset / "classify" / "classified.csv")
    assert sorted(table["id"]) == sorted(unlabelled)
    assert table["confidence"].is_monotonic_decreasing
    assert set(table["suggested_label"]) <= set(MEDIUMS)
    run_row = mlflow.search_runs(experiment_names=["mediumnet"],
                                 filter_string="tags.`mediumnet.step` = 'classify'").iloc[0]
    threshold = run_row["metrics.threshold"]
    assert run_row["metrics.val_precision_at_threshold"] >= 0.95
    assert (table["abstained"] == (table["confidence"] < threshold)).all()
    answered = table[~table["abstained"]]
    assert run_row["metrics.answered"] == len(answered)
    # The threshold was chosen for 95 % precision on val: what it answers, it answers right.
    assert all(row.suggested_label == unlabelled[row.id] for row in answered.itertuples())
    page = (dataset / "classify" / "classified.html").read_text()
    assert page.count("<img") == 5

    # The curator takes the answers: the abstentions stay unlabelled, the reasons say whose.
    copy = tmp_path / "taken"
    shutil.copytree(dataset, copy)
    out = run(mediumnet_exe, "label", str(copy), "--from", str(copy / "classify" /
              "classified.csv"), "--column", "suggested_label", cwd=home)
    abstained = len(table) - len(answered)
    assert f"{len(answered)} unlabelled work" in out.stdout
    assert (f"left out: {abstained} answer{'' if abstained == 1 else 's'} it abstained on"
            in out.stdout)
    taken = _manifest(copy).set_index("id")
    assert all(taken.loc[row.id, "label"] == row.suggested_label for row in answered.itertuples())
    assert (taken.loc[table.loc[table["abstained"], "id"], "label"].fillna("") == "").all()
    assert taken.loc[answered["id"], "label_reason"].str.startswith(
        "the model's answer in classified.csv (confidence 0.").all()

    everything_withheld = run(mediumnet_exe, "classify", str(dataset), "--threshold", "1.01",
                              cwd=home)
    assert "5 unlabelled works: 0 given a medium, 5 abstained" in everything_withheld.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["classify", "curated", "--precision", "0"], "--precision"),
    (["classify", "ds"], "has no unlabelled works"),
    (["suggest", "ds", "--budget", "3"], "has no unlabelled works to suggest"),
    (["suggest", "curated", "--budget", "0"], "--budget"),
    (["suggest", "ds", "--budget", "3", "--doubtful"],
     "--doubtful needs an audit: run mediumnet audit ds first"),
    (["audit", "nowhere"], "nowhere"),
])
def test_bad_collection_calls_fail_in_one_line(curated, mediumnet_exe, args, message):
    home = curated[0]
    out = run(mediumnet_exe, *args, cwd=home, ok=False)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_an_audit_leaves_out_a_medium_by_one_artist_and_refuses_when_too_little_is_left(
        curated, mediumnet_exe, tmp_path):

    from mediumnet.data.manifest import read_manifest, write_manifest

    home, dataset, _, _ = curated
    copy = tmp_path / "one-artist"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns("audit"))
    manifest = read_manifest(copy)
    engravings = manifest["label"] == "engraving"
    manifest.loc[engravings, "artist"] = "the-only-engraver"
    write_manifest(copy, manifest)
    out = run(mediumnet_exe, "audit", str(copy), "--quiet", "--folds", "2", cwd=home)
    assert (f"not audited: engraving ({int(engravings.sum())} works by 1 artist); a medium "
            "needs works by two or more artists, and at least as many works as folds (2)"
            ) in out.stdout
    table = pd.read_csv(copy / "audit" / "audit.csv")
    assert len(table) == int((manifest["label"] != "").sum() - engravings.sum())
    assert "engraving" not in set(table["label"])
    assert "Not audited: engraving" in (copy / "audit" / "audit.html").read_text()
    shutil.rmtree(copy / "audit")
    # With one other medium left, nothing could be judged against it: refused, nothing written.
    manifest.loc[(manifest["label"] != "") & ~engravings, "label"] = "painting"
    write_manifest(copy, manifest)
    out = run(mediumnet_exe, "audit", str(copy), "--quiet", cwd=home, ok=False)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "engraving: works by one artist only" in out.stderr
    assert not (copy / "audit").exists()
    manifest.loc[manifest["label"] != "", "label"] = "painting"   # one medium only
    write_manifest(copy, manifest)
    out = run(mediumnet_exe, "audit", str(copy), "--quiet", cwd=home, ok=False)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "holds labelled works of painting medium: an audit needs two or more" in out.stderr
    assert not (copy / "audit").exists()


def test_suggested_works_are_labelled_by_the_filled_sheet_and_nothing_else_changes(
        curated, mediumnet_exe, tmp_path):

    home, dataset, unlabelled, _ = curated
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns("audit", "classify"))
    out = run(mediumnet_exe, "suggest", str(copy), "--budget", "3", "--quiet", cwd=home)
    assert "3 of 5 candidates picked (typical works: fewer than 10 labelled works a medium)" \
        in out.stdout
    sheet_path = copy / "suggest" / "to_label.csv"
    sheet = pd.read_csv(sheet_path, keep_default_na=False)
    assert len(sheet) == 3 and sheet["id"].is_unique
    assert set(sheet["id"]) <= set(unlabelled)
    assert (sheet["label"] == "").all() and set(sheet["suggested_label"]) <= set(MEDIUMS)
    assert sheet["confidence"].between(0, 1).all()
    assert (sheet["confidence"].astype(str).str.len() <= 5).all()   # 0.768, not 0.7685546914…
    page = (copy / "suggest" / "to_label.html").read_text()
    assert page.count("<img") == 3
    # 35 labelled works of five mediums: too few for a model to judge, so typical works.
    assert "typical works, one per region no labelled work holds yet (fewer than 10" in page
    doubtful = run(mediumnet_exe, "suggest", str(copy), "--budget", "3", "--doubtful",
                   cwd=home, ok=False)
    assert doubtful.returncode != 0 and "run mediumnet audit" in doubtful.stderr

    # The curator fills the sheet (one row left blank, one written as a folder name).
    before = _manifest(copy)
    sheet["label"] = [unlabelled[i] for i in sheet["id"]]
    sheet.loc[2, "label"] = ""
    sheet.to_csv(sheet_path, index=False)
    wrong = sheet.copy()
    wrong.loc[0, "label"] = "mixed media"
    wrong.to_csv(tmp_path / "wrong.csv", index=False)
    bytes_before = (copy / "manifest.parquet").read_bytes()
    bad = run(mediumnet_exe, "label", str(copy), "--from", str(tmp_path / "wrong.csv"),
              cwd=home, ok=False)
    assert bad.returncode != 0 and "'mixed media' names no medium" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert (copy / "manifest.parquet").read_bytes() == bytes_before

    out = run(mediumnet_exe, "label", str(copy), "--from", str(sheet_path), cwd=home)
    assert "2 unlabelled works labelled, 0 relabelled, 0 unchanged, 1 row left blank" \
        in out.stdout
    after = _manifest(copy)
    assert len(after) == len(before) and list(after.columns) == list(before.columns)
    changed = after["label"] != before["label"]
    assert set(after.loc[changed, "id"]) == set(sheet["id"][:2])
    assert all(after.set_index("id").loc[i, "label"] == unlabelled[i] for i in sheet["id"][:2])
    assert after.loc[changed, "label_reason"].str.startswith("given by a curator").all()
    pd.testing.assert_frame_equal(after[~changed], before[~changed])

    # The merge is a tracked step, the refused sheet left none: the digest before and after,
    # the counts, the sheet as merged and the labels it changed, each with its reason.
    from mediumnet.data.manifest import manifest_digest

    runs = mlflow.search_runs(experiment_names=["mediumnet"],
                              filter_string="tags.`mediumnet.step` = 'label'")
    runs = runs[runs["tags.mediumnet.dataset_dir"] == str(copy.resolve())]
    assert len(runs) == 1 and runs["status"].iloc[0] == "FINISHED"
    merge = runs.iloc[0]
    assert merge["tags.mediumnet.dataset_digest_before"] == manifest_digest(before)
    assert merge["tags.mediumnet.dataset_digest"] == manifest_digest(after) != \
        manifest_digest(before)
    assert (merge["metrics.labelled"], merge["metrics.blank"]) == (2, 1)
    assert merge["params.column"] == "label" and merge["run_id"] in out.stdout
    logged = Path(mlflow.artifacts.download_artifacts(run_id=merge["run_id"],
                                                      artifact_path="label",
                                                      dst_path=str(tmp_path / "logged")))
    assert (logged / "to_label.csv").read_bytes() == sheet_path.read_bytes()
    changes = pd.read_csv(logged / "label_changes.csv", keep_default_na=False)
    assert set(changes["id"]) == set(sheet["id"][:2]) and (changes["label_before"] == "").all()
    assert list(changes["label_reason"]) == list(
        after.set_index("id").loc[changes["id"], "label_reason"])

    # The newly labelled works join a split at the next split; the others keep theirs.
    run(mediumnet_exe, "split", str(copy), cwd=home)
    resplit = _manifest(copy)
    assert resplit.loc[changed, "split"].isin(["train", "val", "test"]).all()
    assert (resplit.loc[~changed, "split"].fillna("") == after.loc[~changed, "split"]
            .fillna("")).all()

    # The same filled sheet is also a folder harvest's CSV (path, label, artist).
    again = tmp_path / "again"
    run(mediumnet_exe, "harvest", "folder", str(again), "--from", str(sheet_path), cwd=home)
    assert sorted(_manifest(again)["label"]) == sorted(unlabelled[i] for i in sheet["id"][:2])


def test_with_enough_labels_the_picks_are_the_works_the_audits_model_doubts_most(
        curated, mediumnet_exe, tmp_path):
    from mediumnet.data.manifest import read_manifest, write_manifest

    home, dataset, unlabelled, _ = curated
    copy = tmp_path / "known"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns("audit", "classify", "suggest"))
    manifest = read_manifest(copy)
    known = manifest["label"] != ""
    # 35 labelled works of two mediums: enough (10 a medium) for a model to say what it doubts.
    manifest.loc[known, "label"] = ["painting" if m in {"painting", "drawing", "gouache_watercolor"}
                                    else "engraving" for m in manifest.loc[known, "label"]]
    write_manifest(copy, manifest)
    out = run(mediumnet_exe, "suggest", str(copy), "--budget", "2", "--quiet", cwd=home)
    assert "2 of 5 candidates picked:" in out.stdout and "typical" not in out.stdout
    page = (copy / "suggest" / "to_label.html").read_text()
    assert ("the least certain under a model of the labelled works (scaled logistic regression "
            "on features and embedding, averaged), spread over the collection (embedding "
            "space)") in page
    sheet = pd.read_csv(copy / "suggest" / "to_label.csv", keep_default_na=False)
    assert set(sheet["id"]) <= set(unlabelled)
    assert set(sheet["suggested_label"]) <= {"painting", "engraving"}
    # the uncertainty shown is one minus the margin of the model's two mediums
    assert ((sheet["uncertainty"] - (2 - 2 * sheet["confidence"])).abs() <= 0.002).all()


def test_a_curators_review_of_the_doubtful_works_is_kept_and_not_asked_for_again(
        curated, mediumnet_exe, tmp_path):
    home, dataset, unlabelled, swapped = curated
    copy = tmp_path / "review"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns("audit", "classify", "suggest"))
    run(mediumnet_exe, "audit", str(copy), "--quiet", "--folds", "3", cwd=home)
    flagged = pd.read_csv(copy / "audit" / "audit.csv").query("flagged")["id"]
    assert set(swapped) <= set(flagged)
    everything = str(len(unlabelled) + len(flagged))
    run(mediumnet_exe, "suggest", str(copy), "--budget", everything, "--doubtful", "--quiet",
        cwd=home)
    sheet_path = copy / "suggest" / "to_label.csv"
    sheet = pd.read_csv(sheet_path, keep_default_na=False).set_index("id")
    upheld, corrected = sorted(swapped)
    assert sheet.loc[upheld, "current_label"] != swapped[upheld]          # the record shown
    sheet.loc[upheld, "label"] = sheet.loc[upheld, "current_label"]      # the curator keeps it
    sheet.loc[corrected, "label"] = swapped[corrected]                   # and mends this one
    sheet.reset_index().to_csv(sheet_path, index=False)

    out = run(mediumnet_exe, "label", str(copy), "--from", str(sheet_path), cwd=home)
    assert "0 unlabelled works labelled, 1 relabelled, 0 unchanged" in out.stdout
    assert "1 recorded medium upheld by a curator" in out.stdout
    reasons = _manifest(copy).set_index("id")["label_reason"]
    assert "upholding the record" in reasons[upheld]

    # The stale audit's flags a curator has answered are not offered again.
    again = run(mediumnet_exe, "suggest", str(copy), "--budget", "3", "--doubtful", "--quiet",
                cwd=home)
    assert ("left out: 2 works the audit flagged, relabelled or reviewed by a curator since it "
            "ran") in again.stdout
    offered = set(pd.read_csv(sheet_path)["id"])
    assert len(offered) == 3 and not offered & set(swapped)

    # The next audit judges them again, and does not flag what the curator answered.
    audit = run(mediumnet_exe, "audit", str(copy), "--quiet", "--folds", "3", cwd=home)
    table = pd.read_csv(copy / "audit" / "audit.csv").set_index("id")
    assert table.loc[[upheld, corrected], "reviewed"].all()
    assert not table.loc[[upheld, corrected], "flagged"].any()
    assert table.loc[upheld, "suggested_label"] == swapped[upheld]       # still doubted
    assert "1 more the model doubts is not flagged" in audit.stdout


def test_a_collection_never_split_is_scored_with_split_all(in_store, mediumnet_exe, tmp_path):
    home = in_store.home
    export, unlabelled, _ = _export(in_store, tmp_path)
    run(mediumnet_exe, "harvest", "folder", str(tmp_path / "never"), "--from", str(export),
        "--keep-unlabelled", cwd=home)
    # Two of its unlabelled works take a model's answer: those are never measured against.
    answered = sorted(unlabelled)[:2]
    pd.DataFrame({"id": answered, "suggested_label": [unlabelled[i] for i in answered],
                  "confidence": "0.99", "abstained": "False"}).to_csv(tmp_path / "answers.csv",
                                                                      index=False)
    run(mediumnet_exe, "label", str(tmp_path / "never"), "--from", str(tmp_path / "answers.csv"),
        "--column", "suggested_label", cwd=home)
    assert "split" not in _manifest(tmp_path / "never") or \
        (_manifest(tmp_path / "never")["split"].fillna("") == "").all()
    out = run(mediumnet_exe, "evaluate", CHAMPION, str(tmp_path / "never"), "--split", "all",
              cwd=home)
    assert f"{CHAMPION} on all (35 works)" in out.stdout
    assert "of mediums the model does not know" not in out.stdout   # it knows all five
    assert "left out: 2 works whose medium is a model's answer" in out.stdout
    assert "95 % intervals over" in out.stdout and "macro-F1 0." in out.stdout
    split_only = run(mediumnet_exe, "evaluate", CHAMPION, str(tmp_path / "never"), cwd=home,
                     ok=False)
    assert split_only.returncode != 0 and "--split all" in split_only.stderr
    # With no validation works, classify cannot choose where to abstain: it says so.
    no_val = run(mediumnet_exe, "classify", str(tmp_path / "never"), cwd=home, ok=False)
    assert no_val.returncode != 0 and "Traceback" not in no_val.stderr
    assert "has no validation works to choose the abstention threshold" in no_val.stderr
    assert not (tmp_path / "never" / "classify").exists()


def test_an_audit_asked_for_more_folds_than_it_can_fill_takes_as_many_as_there_can_be(
        curated, mediumnet_exe, tmp_path):
    home, dataset, _, _ = curated
    works = _manifest(dataset).query("label != ''")
    artists, most = works["artist"].nunique(), works["label"].value_counts().max()
    out = run(mediumnet_exe, "audit", "curated", "--quiet", "--folds", "500", "--out",
              str(tmp_path / "audit.csv"), cwd=home)
    assert "Traceback" not in out.stderr
    folds = min(artists, most)
    assert (f"{folds} folds instead of 500: each fold needs an artist of its own ({artists}) "
            f"and a work of the most common medium ({most})") in out.stderr
    assert f"({folds} folds grouped by artist" in out.stdout
    table = pd.read_csv(tmp_path / "audit.csv")
    assert len(table) == 35 and table["fold"].nunique() == folds
