"""The pieces of a curator's collection tools: unlabelled works, thresholds, picks, merges."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mediumnet.collection.classify import Threshold, choose_threshold, threshold_text
from mediumnet.collection.suggest import (
    pick,
    picks_typical,
    suggest_picks,
    uncertainty,
    why_typical,
)
from mediumnet.config import HarvestConfig
from mediumnet.data.splits import splits
from mediumnet.errors import DatasetError, MediumnetError
from mediumnet.harvest.base import Record
from mediumnet.harvest.dedupe import deduplicate
from mediumnet.harvest.outcomes import judge
from mediumnet.labels import MEDIUMS, UNLABELLED

# --- which works are kept unlabelled -----------------------------------------------------

@pytest.mark.parametrize(("category", "text", "kept_as"), [
    ("Drawings", "ink on paper", "drawing"),           # maps: labelled, flag or not
    ("Mystery", "something", UNLABELLED),             # a category the table does not know
    ("Sculpture", "bronze", None),                    # excluded outright: never kept
])
def test_keep_unlabelled_keeps_what_names_no_medium_but_never_what_is_excluded(
        category, text, kept_as):
    keeping = HarvestConfig(keep_unlabelled=True)
    record = Record(id="met:1", source="met", category=category, medium_text=text)
    outcome = judge("met", record, keeping)
    if kept_as is None:
        assert outcome is not None and outcome["reason"] == "unmapped"
    else:
        assert outcome is None and record.label == kept_as and record.label_reason
    plain = Record(id="met:1", source="met", category=category, medium_text=text)
    dropped = judge("met", plain, HarvestConfig())
    assert (dropped is None) == (kept_as not in (None, UNLABELLED))


def test_a_folder_row_without_a_medium_keeps_its_reason():
    record = Record(id="folder:a.jpg", source="folder", category="collage",
                    unlabelled_reason="given as 'collage': no medium")
    assert judge("folder", record, HarvestConfig(keep_unlabelled=True)) is None
    assert record.label == UNLABELLED and "collage" in record.label_reason
    dropped = judge("folder", Record(id="folder:a.jpg", source="folder",
                                     unlabelled_reason="no label given"), HarvestConfig())
    assert dropped["reason"] == "unknown_label"


def _row(work_id: str, label: str, sha: str) -> dict:
    phash = {"x": "0" * 16, "y": "f" * 16}[sha]  # x and y look nothing alike
    return {"id": work_id, "label": label, "sha256": sha, "phash": phash}


def test_an_unlabelled_copy_never_conflicts_and_the_labelled_copy_stands():
    kept, dropped = deduplicate([_row("a", UNLABELLED, "x"), _row("b", "painting", "x"),
                                 _row("c", "painting", "y"), _row("d", "drawing", "y")], 0)
    assert [r["id"] for r in kept] == ["b"]
    assert {(r["id"], why) for r, why in dropped} == {
        ("a", "duplicate"), ("c", "label_conflict"), ("d", "label_conflict")}


def test_a_medium_a_curator_gave_settles_a_work_two_sources_share():
    from mediumnet.harvest.result import _across_sources

    curated = "given by a curator in sheet.csv; was painting"
    others = pd.DataFrame({"id": ["met:1", "met:2"], "sha256": ["x", "y"],
                           "label": ["drawing", "painting"],
                           "label_reason": [curated, "the record's medium"]})
    kept = [{"id": "folder:a", "sha256": "x", "label": "painting", "label_reason": "folder"},
            {"id": "folder:b", "sha256": "y", "label": "drawing", "label_reason": curated}]
    stay, others_left, dropped = _across_sources(kept, others)
    # met:1's medium is a curator's: the folder's copy is a duplicate, not a conflict that
    # would drop both; folder:b's is a curator's: it stays and the Met's copy goes.
    assert [r["id"] for r in stay] == ["folder:b"]
    assert list(others_left["id"]) == ["met:1"]
    assert [(r["id"], why) for r, why in dropped] == [("folder:a", "duplicate")]


def test_a_conflicted_image_is_kept_unlabelled_on_request_and_a_curators_copy_settles_it():
    rows = [_row("b", "painting", "x"), _row("a", "drawing", "x"), _row("c", UNLABELLED, "x")]
    kept, dropped = deduplicate(rows, 0, keep_conflicts=True)
    assert [(r["id"], r["label"]) for r in kept] == [("a", UNLABELLED)]
    assert kept[0]["label_reason"].startswith(
        "label_conflict: one image recorded as drawing (a), painting (b); give it")
    assert {(r["id"], why) for r, why in dropped} == {("b", "label_conflict"),
                                                      ("c", "duplicate")}
    # Kept so before: kept so again without --keep-unlabelled, under the same id.
    kept, _ = deduplicate(rows + [_row("0", "painting", "x")], 0, kept_before={"a"})
    assert [(r["id"], r["label"]) for r in kept] == [("a", UNLABELLED)]
    curated = {**_row("b", "painting", "x"), "label_reason": "given by a curator in s.csv"}
    kept, dropped = deduplicate([curated, *rows[1:]], 0)
    assert [(r["id"], r["label"]) for r in kept] == [("b", "painting")]
    assert {(r["id"], why) for r, why in dropped} == {("a", "duplicate"), ("c", "duplicate")}


def test_a_conflict_across_sources_counts_every_copy_or_keeps_theirs_unlabelled():
    from mediumnet.harvest.result import _across_sources

    others = pd.DataFrame({"id": ["met:1"], "sha256": ["x"], "label": ["drawing"],
                           "label_reason": ["the record's medium"], "split": ["test"]})
    kept = [{"id": "folder:a", "sha256": "x", "label": "painting", "label_reason": "folder"}]
    stay, others_left, dropped = _across_sources(kept, others)
    assert not stay and others_left.empty
    assert [(r["id"], why) for r, why in dropped] == [("folder:a", "label_conflict"),
                                                      ("met:1", "label_conflict")]
    stay, others_left, dropped = _across_sources(kept, others, keep_conflicts=True)
    assert not stay and [(r["id"], why) for r, why in dropped] == [("folder:a",
                                                                    "label_conflict")]
    left = others_left.iloc[0]
    assert (left["label"], left["split"]) == (UNLABELLED, "")
    assert "drawing (met:1), painting (folder:a)" in left["label_reason"]
    # A third copy does not label it: it stays for a curator.
    third = [{"id": "artic:9", "sha256": "x", "label": "drawing", "label_reason": "artic"}]
    stay, still, dropped = _across_sources(third, others_left, keep_conflicts=True)
    assert still.iloc[0]["label"] == UNLABELLED and dropped[0][1] == "label_conflict"


def test_splits_leave_the_unlabelled_works_out_and_refuse_a_set_of_only_them():
    rows = [{"id": f"w{i}", "label": MEDIUMS[i % 3], "artist": f"artist {i % 9}"}
            for i in range(45)]
    rows += [{"id": f"u{i}", "label": UNLABELLED, "artist": f"artist {i}"} for i in range(5)]
    split = splits(pd.DataFrame(rows), val=0.2, test=0.2)
    assert (split.loc[split["label"] == UNLABELLED, "split"] == "").all()
    assert split.loc[split["label"] != UNLABELLED, "split"].isin(["train", "val", "test"]).all()
    with pytest.raises(DatasetError, match="only unlabelled works"):
        splits(pd.DataFrame(rows[45:]))


# --- the abstention threshold ----------------------------------------------------------

def _probs(confidence: list[float], right: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    probs = np.zeros((len(confidence), 5))
    probs[:, 0] = confidence
    probs[:, 1] = 1 - np.asarray(confidence)
    y = np.where(right, 0, 1)
    return y, probs


def test_the_threshold_is_the_lowest_confidence_whose_answers_reach_the_precision():
    # Sorted by confidence: right, right, right, wrong, right, wrong.
    y, probs = _probs([0.99, 0.95, 0.9, 0.8, 0.7, 0.6], [True, True, True, False, True, False])
    t = choose_threshold(y, probs, 0.95)
    assert t.confidence == 0.9 and t.precision == 1.0 and t.coverage == 0.5 and t.works == 6
    loose = choose_threshold(y, probs, 0.75)
    assert loose.confidence == 0.7 and loose.precision == 0.8     # 4 of the top 5
    assert choose_threshold(y, probs, 0.7).confidence == 0.7       # 4 of 6 is too few


def test_ties_are_kept_together_and_no_reachable_precision_abstains_on_everything():
    y, probs = _probs([0.9, 0.9, 0.8], [True, False, True])
    assert choose_threshold(y, probs, 0.95).confidence > 1           # the tie holds a mistake
    assert choose_threshold(y, probs, 0.6).confidence == 0.8
    y, probs = _probs([0.9, 0.8], [False, False])
    none = choose_threshold(y, probs, 0.5)
    assert none.confidence > 1 and none.coverage == 0.0 and not none.reached
    assert Threshold(1.01, float("nan"), float("nan"), 0).reached   # given: abstain on all


def test_a_threshold_out_of_reach_says_how_near_the_best_came_and_what_to_do():
    y, probs = _probs([0.9, 0.8, 0.7, 0.6], [False, True, True, False])
    out_of_reach = choose_threshold(y, probs, 0.95)
    assert (out_of_reach.best_precision, out_of_reach.best_coverage) == (2 / 3, 0.75)
    assert threshold_text(out_of_reach, 0.95) == (
        "no confidence threshold gives precision 95% on the 4 validation works of mediums "
        "the model knows (the best, 66.7%, answering 75%): train one on this collection "
        "(mediumnet stack), ask for less with --precision, or give --threshold")
    reached = choose_threshold(y, probs, 0.6)
    assert reached.reached and threshold_text(reached, 0.6) == (
        "chosen on 4 validation works, where answers at or above it were right 66.7% of the "
        "time and covered 75% of them")


# --- which works to label next ---------------------------------------------------------

def test_uncertainty_is_one_minus_the_margin_of_the_two_likeliest():
    probs = np.array([[0.5, 0.5, 0], [1.0, 0, 0], [0.6, 0.3, 0.1]])
    assert np.allclose(uncertainty(probs), [1.0, 0.0, 0.7])


def test_picks_are_typical_spread_and_prefer_the_uncertain():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.eye(4) * 10, 25, axis=0) + rng.normal(0, 0.1, (100, 4))
    spread_picks = pick(clusters, 4)
    assert len({i // 25 for i in spread_picks}) == 4                 # one per cluster
    weights = np.full(100, 0.01)
    weights[50:75] = 1.0                                              # cluster 2 is uncertain
    assert pick(clusters, 1, weights=weights)[0] // 25 == 2
    blob = np.concatenate([rng.normal(0, 1, (60, 4)), [[9.0, 9, 9, 9]]])  # one odd work
    typical = pick(blob, 1)[0]
    assert typical != 60
    assert np.linalg.norm(blob[typical] - blob[:60].mean(axis=0)) < 1.0  # near the middle
    assert pick(clusters, 0) == [] and sorted(pick(clusters[:3], 10)) == [0, 1, 2]


def test_picks_go_to_the_regions_no_labelled_work_holds():
    rng = np.random.default_rng(2)
    clusters = np.repeat(np.eye(4) * 10, 25, axis=0) + rng.normal(0, 0.1, (100, 4))
    known = np.eye(4)[:2] * 10 + rng.normal(0, 0.1, (2, 4))        # clusters 0 and 1 labelled
    assert {i // 25 for i in pick(clusters, 2, known=known)} == {2, 3}
    assert {i // 25 for i in pick(clusters, 3, known=known)} >= {2, 3}   # then a covered one
    assert len(set(pick(clusters, 3, known=known))) == 3


def test_with_few_labels_a_medium_the_picks_are_typical_works_not_yet_covered():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0], [0, 8], [8, 0], [8, 8]])
    candidates = np.repeat(centres, 30, axis=0) + rng.normal(0, 0.5, (120, 2))
    x_known = centres[:2] + rng.normal(0, 0.1, (2, 2))            # one work of each medium
    y_known = np.array([0, 1])
    assert picks_typical(y_known) and not picks_typical(np.repeat([0, 1], 10))
    assert picks_typical(np.zeros(50, int))                         # one medium only
    # The sheet and the command say why: 400 labelled photographs are not "fewer than 10".
    assert why_typical(np.full(400, MEDIUMS.index("photography"))) == (
        "photography is the only medium labelled")
    assert why_typical(y_known) == "fewer than 10 labelled works a medium"
    assert why_typical(np.zeros(0, int)) == "no labelled works yet"
    assert why_typical(np.repeat([0, 1], 10)) == ""
    chosen, probs = suggest_picks(x_known, y_known, candidates, 2)
    assert {i // 30 for i in chosen} == {2, 3}                      # the regions no label holds
    for i in chosen:                                                # each typical of its region
        assert np.linalg.norm(candidates[i] - centres[i // 30]) < 0.5
    assert not np.isnan(probs[:, :2]).any()                          # the guesses still go out


def test_suggested_picks_come_from_where_the_model_of_the_known_is_unsure():
    rng = np.random.default_rng(1)
    x_known = np.concatenate([rng.normal(-3, 0.5, (20, 2)), rng.normal(3, 0.5, (20, 2))])
    y_known = np.repeat([0, 1], 20)
    easy = np.concatenate([rng.normal(-3, 0.5, (40, 2)), rng.normal(3, 0.5, (40, 2))])
    along = np.linspace(-4, 4, 10)
    border = np.stack([along, -along], axis=1) + rng.normal(0, 0.1, (10, 2))  # x + y = 0
    candidates = np.concatenate([easy, border])
    chosen, probs = suggest_picks(x_known, y_known, candidates, 5)
    assert len(chosen) == 5 and len(set(chosen)) == 5
    assert sum(i >= 80 for i in chosen) >= 3           # the border: 10 of the 90 candidates
    assert uncertainty(probs[chosen][:, :2]).mean() > 1.5 * uncertainty(probs[:, :2]).mean()
    assert np.allclose(np.nansum(probs, axis=1), 1) and np.isnan(probs[:, 2:]).sum() == 0
    alone, nothing = suggest_picks(x_known[:1], y_known[:1], candidates, 3)
    assert len(alone) == 3 and np.isnan(nothing).all()               # one medium known: spread
    surest_doubts = set(np.argsort(-uncertainty(probs[:, :2]), kind="stable")[:5].tolist())
    assert set(suggest_picks(x_known, y_known, candidates, 5, pool_factor=1)[0]) == surest_doubts
    wide, _ = suggest_picks(x_known, y_known, candidates, 5, pool_factor=18)  # all 90: spread wider
    assert len(set(wide)) == 5 and not set(wide) <= surest_doubts
    with pytest.raises(MediumnetError, match="pool_factor 0: give 1 or more"):
        suggest_picks(x_known, y_known, candidates, 5, pool_factor=0)


def test_the_doubt_weighed_is_that_of_the_scored_models_averaged_not_of_the_space_alone():
    rng = np.random.default_rng(4)
    y_known = np.repeat([0, 1], 20)
    side = np.where(y_known == 0, -3.0, 3.0)[:, None]
    space_known = side + rng.normal(0, 0.5, (40, 2))     # the space tells the two apart …
    other_known = side + rng.normal(0, 0.5, (40, 2))
    space = np.concatenate([rng.normal(-3, 0.5, (45, 2)), rng.normal(3, 0.5, (45, 2))])
    other = np.concatenate([space[:80] + rng.normal(0, 0.1, (80, 2)),
                            rng.normal(0, 0.3, (10, 2))])  # … the other input doubts 80-89
    alone, _ = suggest_picks(space_known, y_known, space, 5, pool_factor=1)
    both, probs = suggest_picks(space_known, y_known, space, 5, pool_factor=1, scored={
        "space": (space_known, space), "other": (other_known, other)})
    assert sum(i >= 80 for i in alone) <= 2                # the space alone barely doubts them
    assert set(both) <= set(range(80, 90)) and len(set(both)) == 5
    doubt = uncertainty(probs[:, :2])
    assert doubt[80:].min() > doubt[:80].max()             # the guesses are the averaged model's
    assert np.allclose(probs.sum(axis=1), 1)


# --- a filled sheet merged back ---------------------------------------------------------

@pytest.fixture
def small_set(tmp_path):
    from mediumnet.data.manifest import manifest_frame, write_manifest

    rows = [{"id": f"w{i}", "source": "folder", "label": label, "label_reason": "given",
             "image_path": f"images/w{i}.jpg", "sha256": f"{i:064x}", "width": 10, "bytes": 9,
             "height": 10, "split": split}
            for i, (label, split) in enumerate([("painting", "train"), ("drawing", "val"),
                                                (UNLABELLED, ""), (UNLABELLED, "")])]
    write_manifest(tmp_path, manifest_frame(rows))
    return tmp_path


def test_merge_labels_gives_the_named_works_their_medium_and_keeps_everything_else(
        small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    before = read_manifest(small_set)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label,notes\nw2,Watercolor over graphite,x\nw3,,\n"
                     "w0,gelatin silver print,\nw1,charcoal,\n")  # a name, or a museum's text
    result = merge_labels(small_set, sheet)
    assert (result.labelled, result.relabelled, result.unchanged, result.blank) == (1, 1, 1, 1)
    after = read_manifest(small_set)
    assert after.set_index("id")["label"].to_dict() == {
        "w0": "photography", "w1": "drawing", "w2": "gouache_watercolor", "w3": UNLABELLED}
    assert after.set_index("id").loc["w0", "label_reason"] == (
        "given by a curator in sheet.csv as 'gelatin silver print'; was painting")
    assert after.set_index("id").loc["w2", "label_reason"].startswith(
        "given by a curator in sheet.csv as 'Watercolor over graphite'; was unlabelled")
    assert after.set_index("id").loc["w0", "split"] == "train"       # keeps its split
    pd.testing.assert_frame_equal(after.drop(columns=["label", "label_reason"]),
                                  before.drop(columns=["label", "label_reason"]))


def test_a_classify_tables_answers_are_taken_only_where_it_did_not_abstain(small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    classified = tmp_path / "classified.csv"
    classified.write_text("id,image_path,suggested_label,confidence,abstained\n"
                          "w2,images/w2.jpg,painting,0.9731,False\n"
                          "w3,images/w3.jpg,photography,0.41,True\n")
    result = merge_labels(small_set, classified, column="suggested_label")
    assert (result.labelled, result.left_out, result.left_out_why) == (1, 1, "it abstained on")
    after = read_manifest(small_set).set_index("id")
    assert after["label"].to_dict() == {"w0": "painting", "w1": "drawing", "w2": "painting",
                                        "w3": UNLABELLED}
    assert after.loc["w2", "label_reason"] == ("the model's answer in classified.csv (confidence "
                                               "0.973), accepted by a curator; was unlabelled: "
                                               "given")
    edited = tmp_path / "edited.csv"          # a confidence cell written over in words
    edited.write_text("id,suggested_label,confidence,abstained\nw3,photography,high,False\n")
    assert merge_labels(small_set, edited, column="suggested_label").labelled == 1
    assert read_manifest(small_set).set_index("id").loc["w3", "label_reason"].startswith(
        "the model's answer in edited.csv, accepted by a curator")


def test_a_curator_confirms_a_models_answer_in_a_sheet_not_by_leaving_an_audit_row_alone(
        small_set, tmp_path):
    from mediumnet.data.labelling import given_by_model, merge_labels
    from mediumnet.data.manifest import read_manifest

    classified = tmp_path / "classified.csv"
    classified.write_text("id,suggested_label,confidence,abstained\n"
                          "w2,painting,0.97,False\nw3,drawing,0.93,False\n")
    assert merge_labels(small_set, classified, column="suggested_label").labelled == 2
    # An audit table lists every work with its medium; the curator corrected only w0.
    audit = tmp_path / "audit.csv"
    audit.write_text("rank,id,label,suggested_label,flagged\n1,w0,engraving,engraving,True\n"
                     "2,w2,painting,drawing,True\n3,w3,drawing,drawing,False\n")
    result = merge_labels(small_set, audit)
    assert (result.relabelled, result.unchanged, result.confirmed) == (1, 2, 0)
    reasons = read_manifest(small_set).set_index("id")["label_reason"]
    assert given_by_model(reasons["w2"]) and given_by_model(reasons["w3"])
    # A sheet the curator writes: the same medium confirms the answer, theirs from now on.
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label\nw2,oil on canvas\n")
    assert merge_labels(small_set, sheet).confirmed == 1
    reason = read_manifest(small_set).set_index("id").loc["w2", "label_reason"]
    assert reason.startswith("given by a curator in sheet.csv as 'oil on canvas'; was the "
                             "model's answer in classified.csv") and not given_by_model(reason)


def test_evaluating_a_set_whose_every_label_is_a_models_answer_is_refused_in_one_line(
        small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.study.evaluate import evaluate_model

    manifest = read_manifest(small_set)
    write_manifest(small_set, manifest[manifest["label"] == UNLABELLED])
    classified = tmp_path / "classified.csv"
    classified.write_text("id,suggested_label,confidence,abstained\n"
                          "w2,painting,0.97,False\nw3,drawing,0.93,False\n")
    assert merge_labels(small_set, classified, column="suggested_label").labelled == 2
    with pytest.raises(MediumnetError, match="has no labelled works to evaluate on but 2 whose "
                                             "medium is a model's answer"):
        evaluate_model("models:/mediumnet-ensemble/1", small_set, split="all")


def test_an_audits_answers_are_taken_for_the_flagged_works_and_never_over_a_curator(
        small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label\nw2,drawing\n")
    merge_labels(small_set, sheet)                                  # a curator labels w2
    audit = tmp_path / "audit.csv"
    audit.write_text("rank,id,label,suggested_label,score,p_suggested,flagged\n"
                     "1,w0,painting,engraving,0.05,0.91,True\n"
                     "2,w2,drawing,painting,0.10,0.85,True\n"
                     "3,w1,drawing,photography,0.40,0.55,False\n")
    result = merge_labels(small_set, audit, column="suggested_label")
    assert (result.relabelled, result.kept_curator, result.left_out) == (1, 1, 1)
    after = read_manifest(small_set).set_index("id")
    assert after["label"].to_dict() == {"w0": "engraving", "w1": "drawing", "w2": "drawing",
                                        "w3": UNLABELLED}
    assert after.loc["w0", "label_reason"] == ("the model's answer in audit.csv (confidence "
                                               "0.910), accepted by a curator; was painting")
    assert after.loc["w2", "label_reason"].startswith("given by a curator in sheet.csv")


def test_a_sheet_typed_in_a_spreadsheet_merges_whatever_the_headers_case_and_the_spaces(
        small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    sheet = tmp_path / "typed.csv"
    sheet.write_text("ID,Label\n w2 ,Drawing \nw3,\n")
    assert merge_labels(small_set, sheet).labelled == 1
    assert read_manifest(small_set).set_index("id").loc["w2", "label"] == "drawing"


def test_a_work_written_twice_with_one_medium_is_merged_once(small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    sheet = tmp_path / "shared.csv"          # two people filled one sheet, and agree
    sheet.write_text("id,label\nw2,pen and ink\nw3,painting\nw2,drawing\n")
    result = merge_labels(small_set, sheet)
    assert (result.labelled, len(result.changes)) == (2, 2)
    after = read_manifest(small_set).set_index("id")
    assert after.loc["w2", "label"] == "drawing"
    assert after.loc["w2", "label_reason"] == ("given by a curator in shared.csv as 'pen and "
                                               "ink'; was unlabelled: given")


def test_a_curator_upholds_a_doubtful_record_on_a_suggestion_sheet_not_on_a_plain_one(
        small_set, tmp_path):
    from mediumnet.data.labelling import given_by_model, merge_labels, reviewed_by_curator
    from mediumnet.data.manifest import read_manifest

    plain = tmp_path / "mine.csv"            # a curator's own list: the same medium changes nothing
    plain.write_text("id,label\nw0,painting\n")
    assert (merge_labels(small_set, plain).unchanged, merge_labels(small_set, plain).upheld) \
        == (1, 0)
    assert read_manifest(small_set).set_index("id").loc["w0", "label_reason"] == "given"
    # suggest --doubtful's sheet shows each work's medium; writing it again upholds it.
    sheet = tmp_path / "to_label.csv"
    sheet.write_text("id,suggested_label,confidence,current_label,label\n"
                     "w0,engraving,0.61,painting,oil on canvas\nw1,painting,0.55,drawing,\n"
                     "w2,drawing,0.70,,drawing\n")
    result = merge_labels(small_set, sheet)
    assert (result.upheld, result.labelled, result.unchanged, result.blank) == (1, 1, 0, 1)
    assert ("w0", "painting", "painting") in result.changes
    after = read_manifest(small_set).set_index("id")
    assert after.loc["w0", "label"] == "painting" and after.loc["w0", "split"] == "train"
    assert after.loc["w0", "label_reason"] == ("given by a curator in to_label.csv as 'oil on "
                                               "canvas', upholding the record; was given")
    assert reviewed_by_curator(after.loc["w0", "label_reason"])
    assert not reviewed_by_curator(after.loc["w1", "label_reason"])   # left blank: still doubted
    again = merge_labels(small_set, sheet)            # a curator's label is not upheld twice
    assert (again.upheld, again.unchanged) == (0, 2)
    assert read_manifest(small_set).set_index("id").loc["w0", "label_reason"] == \
        after.loc["w0", "label_reason"]
    # A model's answer taken in bulk is audited like any record; one a curator wrote is not.
    taken = "the model's answer in classified.csv (confidence 0.973), accepted by a curator"
    assert given_by_model(taken) and not reviewed_by_curator(taken)
    assert reviewed_by_curator(f"given by a curator in s.csv; was {taken}")


def test_an_unknown_id_is_called_a_conflicted_copy_only_where_a_conflict_names_it(tmp_path):
    """A sheet naming an id that is not in the data set: only a kept copy of an image under two
    mediums, whose reason names that id, sends its medium elsewhere; another reason that
    happens to hold the id in brackets does not."""
    from mediumnet.data.labelling import conflict_copies, conflict_reason, merge_labels
    from mediumnet.data.manifest import manifest_frame, write_manifest

    reason = conflict_reason([{"label": "drawing", "id": "folder:d/1.jpg"},
                              {"label": "painting", "id": "folder:p/1.jpg"}])
    assert conflict_copies(reason) == "drawing (folder:d/1.jpg), painting (folder:p/1.jpg)"
    assert conflict_copies("no medium: 'ink (folder:p/2.jpg)' names none") == ""
    rows = [{"id": work, "source": "folder", "label": UNLABELLED, "label_reason": why,
             "image_path": f"images/{i}.jpg", "sha256": f"{i:064x}", "width": 10, "bytes": 9,
             "height": 10, "split": ""}
            for i, (work, why) in enumerate([
                ("folder:d/1.jpg", reason),
                ("folder:x/9.jpg", "no medium: 'ink (folder:p/2.jpg)' names none")])]
    write_manifest(tmp_path, manifest_frame(rows))
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,label\nfolder:p/1.jpg,painting\n")
    with pytest.raises(DatasetError, match=re.escape(
            "its image is kept, unlabelled, as 'folder:d/1.jpg'")):
        merge_labels(tmp_path, sheet)
    sheet.write_text("id,label\nfolder:p/2.jpg,painting\n")
    with pytest.raises(DatasetError) as refused:
        merge_labels(tmp_path, sheet)
    assert "no work 'folder:p/2.jpg'" in str(refused.value)
    assert "kept, unlabelled" not in str(refused.value)


def _fit(reasons: list[str], doubted: set[int]):
    """A cross-fit of 40 works, 20 paintings and 20 prints, the works in ``doubted`` confidently
    taken for the other medium."""
    from mediumnet.collection.crossfit import CrossFit

    n = len(reasons)
    y = np.array([MEDIUMS.index("painting")] * (n // 2) + [MEDIUMS.index("engraving")] * (n // 2))
    probs = np.zeros((n, len(MEDIUMS)))
    rng = np.random.default_rng(0)
    for i, medium in enumerate(y):
        other = MEDIUMS.index("engraving" if MEDIUMS[medium] == "painting" else "painting")
        sure = 0.03 + 0.05 * rng.random() if i in doubted else 0.85 + 0.1 * rng.random()
        probs[i, medium], probs[i, other] = sure, 1 - sure
    works = pd.DataFrame({"id": [f"w{i:02d}" for i in range(n)],
                          "image_path": [f"images/w{i:02d}.jpg" for i in range(n)],
                          "label": [MEDIUMS[v] for v in y], "medium_text": "",
                          "label_reason": reasons, "artist": "", "title": "", "split": ""})
    return CrossFit(works, y, probs, np.arange(n) % 5, ("painting", "engraving"), ("features",))


def test_the_audit_does_not_flag_again_what_a_curator_wrote_but_counts_the_doubt():
    from mediumnet.collection.audit import audit_table, reviewed_text

    reasons = ["folder 'paintings'"] * 40
    reasons[3] = "given by a curator in to_label.csv, upholding the record; was folder 'x'"
    reasons[4] = "the model's answer in audit.csv (confidence 0.900), accepted by a curator"
    reasons[5] = "given by a curator in to_label.csv; was unlabelled: given"
    table, doubted_reviewed = audit_table(_fit(reasons, doubted={3, 4, 25}))
    rows = table.set_index("id")
    assert rows.loc[["w03", "w04", "w25"], "flagged"].tolist() == [False, True, True]
    assert rows.loc[["w03", "w04", "w05"], "reviewed"].tolist() == [True, False, True]
    assert doubted_reviewed == 1 and int(table["flagged"].sum()) == 2
    assert table["id"].head(2).tolist() in (["w04", "w25"], ["w25", "w04"])  # flags first
    assert reviewed_text(1) == ("1 more the model doubts is not flagged: a curator wrote its "
                                "medium in a sheet (reviewed)")
    unreviewed, none = audit_table(_fit(["folder 'paintings'"] * 40, doubted={3, 4, 25}))
    assert none == 0 and unreviewed.set_index("id").loc["w03", "flagged"]


def test_a_medium_by_one_artist_or_with_fewer_works_than_folds_is_not_audited():
    from mediumnet.collection.audit import _thin_mediums, not_audited_text

    def works(spec: dict[str, list[str]]) -> pd.DataFrame:
        rows = [(m, a) for m, artists in spec.items() for a in artists]
        return pd.DataFrame({"id": [f"w{i}" for i in range(len(rows))],
                             "label": [m for m, _ in rows], "artist": [a for _, a in rows]})

    many = [f"a{i}" for i in range(12)]
    thin = _thin_mediums(works({"painting": many, "engraving": many, "drawing": ["s", "j", "j"],
                                "gouache_watercolor": ["t"] * 6}), folds=5)
    assert thin == {"drawing": (3, 2), "gouache_watercolor": (6, 1)}
    assert not_audited_text(thin, 5) == (
        "not audited: drawing (3 works by 2 artists), gouache_watercolor (6 works by 1 "
        "artist); a medium needs works by two or more artists, and at least as many works as "
        "folds (5), to be judged out-of-fold (add works to audit them)")
    assert _thin_mediums(works({"painting": many, "drawing": ["s", "j", "j"]}), folds=3) == {}
    # With one other medium left, nothing is left out: the cross-fit says what is missing.
    assert _thin_mediums(works({"painting": many, "engraving": ["t"] * 6}), folds=5) == {}
    unknown = works({"painting": many, "engraving": many, "photography": [""] * 5})
    assert _thin_mediums(unknown, folds=5) == {}          # unknown artists: a group per work


def test_the_folds_stay_as_many_as_asked_while_every_medium_is_learnt_in_each():
    from mediumnet.collection.crossfit import _every_medium_learnt

    y = np.array([0] * 60 + [1] * 60 + [2] * 8)           # a medium by two artists
    groups = np.array([f"p{i % 15}" for i in range(60)] + [f"e{i % 15}" for i in range(60)]
                      + ["d1"] * 4 + ["d2"] * 4)
    splits = _every_medium_learnt(y, groups, 5, 2, seed=0)
    assert len(splits) == 5
    for rest, held in splits:
        assert set(y[held]) <= set(y[rest])                     # each medium learnt
        assert not set(groups[held]) & set(groups[rest])        # each artist in one fold
    assert sorted(np.concatenate([held for _, held in splits]).tolist()) == list(range(len(y)))


def test_suggest_doubtful_leaves_out_the_flagged_works_reviewed_since_the_audit(small_set,
                                                                                 tmp_path):
    from mediumnet.collection.suggest import _candidates
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    (small_set / "audit").mkdir()               # the audit's table, saved by a French Excel
    (small_set / "audit" / "audit.csv").write_bytes(
        ("rank;id;label;suggested_label;score;flagged;reviewed\r\n"
         "1;w0;painting;engraving;0,05;VRAI;FAUX\r\n2;w1;drawing;painting;0,10;VRAI;FAUX\r\n"
         ).encode("utf-8-sig"))
    pool, since = _candidates(small_set, read_manifest(small_set), doubtful=True)
    assert sorted(pool["id"]) == ["w0", "w1", "w2", "w3"] and since == 0
    sheet = tmp_path / "to_label.csv"                  # the curator upholds w0, fills w2, w3
    sheet.write_text("id,current_label,label\nw0,painting,painting\nw2,,drawing\n"
                     "w3,,photography\n")
    merge_labels(small_set, sheet)
    pool, since = _candidates(small_set, read_manifest(small_set), doubtful=True)
    assert pool["id"].tolist() == ["w1"] and since == 1
    audit = tmp_path / "audit.csv"                     # w1 relabelled with the audit's answer
    audit.write_text("id,label,suggested_label,p_suggested,flagged\nw1,drawing,painting,0.9,True\n")
    merge_labels(small_set, audit, column="suggested_label")
    with pytest.raises(MediumnetError, match="has no unlabelled works to suggest .*; the 2 the "
                       "audit flagged were relabelled or reviewed since it ran: run mediumnet "
                       "audit again"):
        _candidates(small_set, read_manifest(small_set), doubtful=True)


def test_a_table_saved_by_a_french_excel_merges_as_the_curator_left_it(small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels
    from mediumnet.data.manifest import read_manifest

    # classified.csv opened and saved in Excel (French locale, "CSV UTF-8"): semicolons,
    # the byte-order mark, Windows line ends, VRAI/FAUX and decimal commas.
    classified = tmp_path / "classified.csv"
    classified.write_bytes(("id;image_path;suggested_label;confidence;abstained\r\n"
                            "w2;images/w2.jpg;Aquarelle;0,9731;FAUX\r\n"
                            "w3;images/w3.jpg;photography;0,41;VRAI\r\n").encode("utf-8-sig"))
    result = merge_labels(small_set, classified, column="suggested_label")
    assert (result.labelled, result.left_out) == (1, 1)
    after = read_manifest(small_set).set_index("id")
    assert after.loc["w2", "label"] == "gouache_watercolor"
    assert after.loc["w2", "label_reason"].startswith("the model's answer in classified.csv "
                                                      "(confidence 0.973)")
    sheet = tmp_path / "to_label.csv"          # a sheet the curator typed in: tabs, UTF-16
    sheet.write_bytes("id\tlabel\r\n\r\nw3\tLithographie\r\n".encode("utf-16"))
    assert merge_labels(small_set, sheet).labelled == 1
    assert read_manifest(small_set).set_index("id").loc["w3", "label"] == "engraving"

    before = (small_set / "manifest.parquet").read_bytes()
    edited = tmp_path / "edited.csv"           # a flag written over: which way is not guessed
    edited.write_text("id;suggested_label;abstained\n\nw0;drawing;peut-être\n")
    with pytest.raises(DatasetError, match="edited.csv, line 3: abstained is 'peut-être'; "
                                           "write True or False"):
        merge_labels(small_set, edited, column="suggested_label")
    assert (small_set / "manifest.parquet").read_bytes() == before


def test_a_suggestion_sheets_guesses_are_not_taken_as_labels(small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels

    before = (small_set / "manifest.parquet").read_bytes()
    sheet = tmp_path / "to_label.csv"
    sheet.write_text("id,path,suggested_label,confidence,uncertainty,label\n"
                     "w2,images/w2.jpg,painting,0.51,0.9,\n")
    with pytest.raises(DatasetError, match="suggested_label holds a model's guesses and the "
                       "table does not say which it stands behind"):
        merge_labels(small_set, sheet, column="suggested_label")
    assert (small_set / "manifest.parquet").read_bytes() == before


@pytest.mark.parametrize(("text", "message"), [
    ("id,label\nw2,sculpture\n", "line 2: 'sculpture' names no medium; write one of "
     "painting, engraving, drawing, gouache_watercolor, photography or a technique of one"),
    ("id,label\nw2,painting\nw3,prints and drawings\n", "line 3: 'prints and drawings' names "
     "2 mediums \\(engraving, drawing\\); write the one this work is"),
    ("id,label\nw2,Screenprint and acrylic on canvas\n", "line 2: 'Screenprint and acrylic on "
     "canvas' names 2 mediums \\(painting, engraving\\)"),
    ("id,label\nw9,painting\n", "line 2: no work 'w9'"),
    ("id,label\n\nw9,painting\n", "line 3: no work 'w9'"),    # the line as the file has it
    ("id,medium\nw2,painting\n", "has no column 'label'"),
    ("id,label\nw2,drawing\nw3,painting\nw2,Woodcut\n", "line 4: 'w2' is given engraving here "
     "and drawing on line 2; keep the row of the medium it is"),
    ("id,label\n", "has no rows under its header, so nothing to merge"),
    ("id,label\nw2,\nw3, \n", "every 'label' cell of its 2 rows is empty, so nothing to merge"),
])
def test_a_wrong_sheet_changes_nothing(small_set, tmp_path, text, message):
    from mediumnet.data.labelling import merge_labels

    before = (small_set / "manifest.parquet").read_bytes()
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text)
    with pytest.raises(DatasetError, match=message):
        merge_labels(small_set, sheet)
    assert (small_set / "manifest.parquet").read_bytes() == before


# --- bad inputs refused before anything is measured or written -------------------------

def test_a_missing_sheet_is_named(small_set, tmp_path):
    from mediumnet.data.labelling import merge_labels

    with pytest.raises(DatasetError, match="nowhere.csv: no such file; give the CSV"):
        merge_labels(small_set, tmp_path / "nowhere.csv")


def test_an_unlabelled_work_in_a_split_is_refused_by_the_manifest_check(small_set):
    from mediumnet.data.manifest import read_manifest, validate_manifest

    manifest = read_manifest(small_set)
    manifest.loc[manifest["id"] == "w2", "split"] = "val"
    with pytest.raises(DatasetError, match="unlabelled work 'w2' is in the val split"):
        validate_manifest(manifest)


def test_an_audit_needs_labelled_works_and_two_folds(small_set):
    from mediumnet.collection.audit import run_audit
    from mediumnet.config import load_config
    from mediumnet.data.manifest import read_manifest, write_manifest
    from mediumnet.errors import MediumnetError

    config = load_config("tiny", [])
    with pytest.raises(MediumnetError, match="--folds 1: give 2 or more"):
        run_audit(small_set, config, folds=1)
    manifest = read_manifest(small_set)
    manifest["label"], manifest["split"] = UNLABELLED, ""
    write_manifest(small_set, manifest)
    with pytest.raises(MediumnetError, match="has no labelled works to audit"):
        run_audit(small_set, config)
    assert not (small_set / "audit").exists()


def test_the_audit_branches_must_be_fitted_ones_and_one_must_be_on():
    from mediumnet.collection.crossfit import chosen_branches
    from mediumnet.config import load_config
    from mediumnet.errors import MediumnetError

    config = load_config("tiny", [])
    with pytest.raises(MediumnetError, match="texture: not a fitted branch; choose from"):
        chosen_branches(config, ["texture"])
    off = load_config("tiny", ["ensemble.use_features=false", "embedding.enabled=off"])
    with pytest.raises(MediumnetError, match="no fitted branch is on"):
        chosen_branches(off, None)


def test_a_table_is_written_as_csv_and_page_and_a_failed_write_leaves_the_old_ones(tmp_path):
    from mediumnet.collection.page import write_table

    table = pd.DataFrame({"id": ["a", "b"], "image_path": ["none.jpg", "none.jpg"],
                          "flagged": [True, False], "score": [0.1, 0.9]})
    csv, page = write_table(table, tmp_path / "out" / "t.csv", tmp_path, title="T",
                            marked="flagged")
    assert pd.read_csv(csv)["id"].tolist() == ["a", "b"]
    assert page == tmp_path / "out" / "t.html" and page.read_text().count('class="marked"') == 1

    class Unwritable(pd.DataFrame):  # writes half a file, then the disk is full
        def to_csv(self, path, *args, **kwargs):
            Path(path).write_text("id,ima")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_table(Unwritable(table.iloc[:1]), csv, tmp_path, title="T")
    assert pd.read_csv(csv)["id"].tolist() == ["a", "b"]          # the old table, whole
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t.csv", "t.html"]

