"""parley_core.names.text_problem: the one rule for display names, chat titles and
message bodies."""

from __future__ import annotations

import pytest

from parley_core import names


@pytest.mark.parametrize(
    "label",
    [
        "Zoë",
        "Équipe 🚀",
        "e\u0301",
        "  spaced  ",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian, with ZWNJ
        "👨\u200d👩\u200d👧",  # an emoji family joined by ZWJ
    ],
)
def test_visible_labels_pass(label: str) -> None:
    assert names.text_problem(label) is None


@pytest.mark.parametrize("control", sorted(names.BIDI_CONTROLS))
def test_every_bidirectional_control_is_refused_by_its_code_point(control: str) -> None:
    problem = names.text_problem(f"invoice{control}fdp.exe")
    assert problem == f"contains the bidirectional control U+{ord(control):04X}"


@pytest.mark.parametrize("label", ["a\x00b", "a\nb", "a\u200bb", "\ufeffa", "a\ue000", "\ud800"])
def test_control_and_other_invisible_characters_are_refused(label: str) -> None:
    problem = names.text_problem(label)
    assert problem is not None
    assert problem.startswith("contains the control character U+")


@pytest.mark.parametrize("label", ["", " ", "\u3000", "\u200d", "\u200c "])
def test_a_label_of_nothing_visible_is_refused(label: str) -> None:
    assert names.text_problem(label) == "must contain something besides white space"


@pytest.mark.parametrize(
    "body",
    [
        "line one\nline two",
        "a\tb\r\n",
        "\u05e9\u05dc\u05d5\u05dd \u200fok",  # Hebrew with a right-to-left mark
        "price\u00adless",  # a soft hyphen
        "\ue000 private use",
    ],
)
def test_a_message_body_may_hold_line_breaks_and_format_characters(body: str) -> None:
    assert names.text_problem(body, multiline=True) is None


@pytest.mark.parametrize("body", ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\ud800b"])
def test_a_message_body_refuses_other_controls_and_lone_surrogates(body: str) -> None:
    problem = names.text_problem(body, multiline=True)
    assert problem == f"contains the control character U+{ord(body[1]):04X}"


@pytest.mark.parametrize("body", ["", "\n\t ", "\u200b", "\u200f\u200e"])
def test_a_message_body_of_nothing_visible_is_refused(body: str) -> None:
    assert names.text_problem(body, multiline=True) == "must contain something besides white space"
