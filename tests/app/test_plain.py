"""``ui.format.plain``: text from the data shown as typed in elements that render Markdown."""

from __future__ import annotations

import pytest
from hostile_text import CORPUS, LINES, LONG, RTL, live_markup

from ui.format import LABEL_CHARS, plain


@pytest.mark.parametrize("text", CORPUS)
def test_no_hostile_string_keeps_its_markup(text):
    assert live_markup([("plain", plain(text, limit=None))]) == []


def test_a_one_line_label_collapses_line_breaks():
    assert plain(LINES) == "line one line two # heading"  # "#" heads a line only at its start


def test_several_lines_stay_lines_each_escaped():
    assert plain("# one\n- two", one_line=False) == "\\# one  \n\\- two"


def test_long_text_is_cut_with_an_ellipsis():
    shown = plain(LONG)
    assert len(shown) == LABEL_CHARS and shown.endswith("…")


def test_right_to_left_overrides_are_dropped():
    assert "\u202e" not in plain(RTL) and "evil" in plain(RTL)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("Renamed to 'Q3 plan'.", "Renamed to 'Q3 plan'.", id="ordinary-text-unchanged"),
        pytest.param("1. first", "1\\. first", id="ordered-list"),
        pytest.param("a_b*c", "a\\_b\\*c", id="emphasis"),
        pytest.param(None, "-", id="none"),
    ],
)
def test_ordinary_text_reads_as_before(text, shown):
    assert plain(text) == shown
