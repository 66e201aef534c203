"""An amendment shown in its paragraph: the words removed and added, the rest as it is."""

from __future__ import annotations

from node.rules.motions import word_diff


def test_a_replacement_marks_the_words_it_changes_and_keeps_the_rest() -> None:
    before = "The branch gives £200 to the food bank each year."
    after = "The branch gives £500 to the food bank and the shelter each year."
    runs = word_diff(before, after)
    assert "".join(w for op, w in runs if op != "ins") == before
    assert "".join(w for op, w in runs if op != "del") == after
    assert ("del", "£200 ") in runs and ("ins", "£500 ") in runs
    assert ("ins", "and the shelter ") in runs


def test_nothing_changed_is_one_run() -> None:
    assert word_diff("Same words.", "Same words.") == [("same", "Same words.")]
    assert word_diff("", "New.") == [("ins", "New.")]
