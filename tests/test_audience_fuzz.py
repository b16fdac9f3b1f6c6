"""Property: text written inside an internal block never reaches a customer's page, whatever
Markdown surrounds it (fences, unclosed fences, code samples, lists, indentation, raw HTML)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.content.audience import project_body
from app.content.render import render

CANARY = "zqxcanaryzqx"

PUBLIC_BITS = st.sampled_from([
    "Plain paragraph.", "```", "~~~", "````python", "    indented code", "- list item",
    "1. numbered", "> quote", "<div>", "</div>", "<!--", "-->", "| a | b |", "|---|---|",
    "!!! note \"Note\"", "    note body", "# Heading", "::: other", ":::", "", "Term",
    ":   definition", "[x]: /policies/x", "<pre>", "</pre>",
])
INDENTS = st.sampled_from(["", " ", "  ", "   ", "    ", "\t"])


@st.composite
def documents(draw):
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        lines.extend(draw(st.lists(PUBLIC_BITS, max_size=5)))
        indent = draw(INDENTS)
        lines.append(f"{indent}::: internal")
        for n in range(draw(st.integers(1, 4))):  # internal text, code samples included
            lines.append(draw(st.sampled_from([f"{draw(INDENTS)}{CANARY} {n}", "```", "~~~",
                                               f"    {CANARY} code", ""])))
        lines.append(f"{indent}:::")
    lines.extend(draw(st.lists(PUBLIC_BITS, max_size=5)))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(documents())
def test_internal_text_never_in_public_pages(body):
    public = project_body(body, sees_internal=False)
    assert CANARY not in public
    assert CANARY not in render(public).html
