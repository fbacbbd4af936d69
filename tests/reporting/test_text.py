"""Plain-text renderings."""

from __future__ import annotations


def test_long_terminal_lines_are_cut_at_a_word():
    from bayeslaw.reporting.text import _cut

    line = "warning: " + " ".join(f"word{i}" for i in range(80))
    out = _cut(line, 100)
    assert len(out) <= 104 and out.endswith(" ...")
    assert out[:-4] == line[:len(out) - 4] and line[len(out) - 4] == " "  # the cut falls between words
    assert _cut("short", 100) == "short"
