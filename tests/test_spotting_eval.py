"""MEGC spotting evaluation (mertool.evaluation.spotting) on hand-computed cases."""

from __future__ import annotations

import pytest

from mertool.evaluation.spotting import Interval, evaluate_spotting, iou, match


def I(video, onset, offset, kind="micro"):  # noqa: E743 - a short name for the table of cases
    return Interval(video, onset, offset, kind)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((1, 10), (1, 10), 1.0),
        ((1, 10), (6, 15), 5 / 15),  # frames 6..10 shared, 1..15 in all
        ((1, 10), (3, 10), 8 / 10),
        ((1, 10), (1, 5), 0.5),
        ((1, 10), (11, 20), 0.0),  # touching is not overlapping
        ((5, 5), (5, 5), 1.0),  # a one-frame interval
    ],
)
def test_iou_counts_frames_with_both_ends_included(a, b, expected):
    assert iou(I("v", *a), I("v", *b)) == pytest.approx(expected)
    assert iou(I("v", *b), I("v", *a)) == pytest.approx(expected)


def test_iou_of_exactly_one_half_is_a_true_positive():
    s = evaluate_spotting([I("v", 1, 5)], [I("v", 1, 10)])
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 0, 0)
    s = evaluate_spotting([I("v", 1, 4)], [I("v", 1, 10)])  # 4/10 < 0.5
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (0, 1, 1)


def test_a_truth_interval_is_matched_once():
    s = evaluate_spotting([I("v", 1, 10), I("v", 2, 10)], [I("v", 1, 10)])
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 1, 0)
    assert s["micro"]["precision"] == 0.5 and s["micro"]["recall"] == 1.0
    assert s["micro"]["f1"] == pytest.approx(2 / 3)


def test_matching_is_greedy_by_iou_and_one_to_one():
    # IoUs: W1-G1 1.0, W2-G1 9/11, W2-G2 9/11, W1-G2 8/12: W1 takes G1, W2 takes G2
    spotted = [I("v", 1, 10), I("v", 2, 11)]
    truth = [I("v", 1, 10), I("v", 3, 12)]
    assert [(w, g) for w, g, _ in match(spotted, truth)] == [(0, 0), (1, 1)]
    assert [(w, g) for w, g, _ in match(spotted[::-1], truth[::-1])] == [(0, 0), (1, 1)]  # order-free


def test_kinds_and_videos_never_match_across():
    s = evaluate_spotting([I("v", 1, 10, "micro"), I("w", 1, 10, "macro")], [I("v", 1, 10, "macro")])
    assert s["overall"]["tp"] == 0 and s["overall"]["fp"] == 2 and s["overall"]["fn"] == 1


def test_counts_are_pooled_over_videos_then_scored():
    spotted = [I("a", 1, 10), I("a", 30, 40), I("a", 100, 110)]
    truth = [I("a", 1, 10), I("a", 31, 40), I("b", 50, 90, "macro")]
    s = evaluate_spotting(spotted, truth)
    # micro: 2 TP of 3 spotted, 2 truth -> P 2/3, R 1, F1 = 2*2/(3+2) = 0.8
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (2, 1, 0)
    assert s["micro"]["precision"] == pytest.approx(2 / 3) and s["micro"]["recall"] == 1.0
    assert s["micro"]["f1"] == pytest.approx(0.8)
    # macro: nothing spotted, one missed -> precision undefined, recall and F1 0
    assert s["macro"] == {"tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0, "f1": 0.0}
    # overall: 2 TP, 3 spotted, 3 truth -> P = R = F1 = 2/3
    assert s["overall"]["f1"] == pytest.approx(2 / 3)
    assert s["videos"]["a"]["micro"]["f1"] == pytest.approx(0.8)
    assert s["videos"]["b"]["macro"]["fn"] == 1 and s["videos"]["b"]["micro"]["f1"] is None
    assert len(s["matches"]) == 2 and s["matches"][1]["iou"] == pytest.approx(10 / 11)


def test_bad_intervals_are_refused():
    with pytest.raises(ValueError, match="ends before it starts"):
        I("v", 10, 5)
    with pytest.raises(ValueError, match="kind"):
        I("v", 1, 5, "tiny")
