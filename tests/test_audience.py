"""The projection: what each viewer may read, decided once on the source."""

import pytest

from app.content.audience import PUBLIC, STAFF, Viewer, project, project_body, split_blocks
from app.content.store import parse

BODY = """Intro.

::: internal
Secret approval limit $25.
:::

Public tail.
"""


def test_public_viewer_loses_internal_blocks():
    text = project_body(BODY, sees_internal=False)
    assert "Secret" not in text
    assert "Intro." in text and "Public tail." in text


def test_staff_get_marked_callout():
    text = project_body(BODY, sees_internal=True)
    assert '!!! agents-only "Agents only"' in text
    assert "    Secret approval limit $25." in text


def test_customer_preview_equals_public_projection():
    doc = parse(b"---\naudience: public\n---\n" + BODY.encode(), kind="policy", slug="x",
                path="x.md")
    preview = project(doc, viewer=Viewer(is_staff=True, as_customer=True))
    public = project(doc, viewer=PUBLIC)
    assert preview.body == public.body


@pytest.mark.parametrize("viewer, visible", [(PUBLIC, False), (STAFF, True),
                                             (Viewer(is_staff=True, as_customer=True), False)])
def test_internal_documents(viewer, visible):
    doc = parse(b"---\naudience: internal\n---\nx", kind="policy", slug="x", path="x.md")
    assert (project(doc, viewer=viewer) is not None) is visible


def test_public_projection_drops_staff_metadata():
    doc = parse(b"---\naudience: public\nowner: o@x\nreview_by: 2020-01-01\n---\nx",
                kind="policy", slug="x", path="x.md")
    shown = project(doc, viewer=PUBLIC)
    assert shown.owner == "" and shown.review_by is None and "owner" not in shown.meta


def test_unclosed_block_hides_the_rest():
    body = "Open\n\n::: internal\nhidden\n\nstill hidden\n"
    assert "hidden" not in project_body(body, sees_internal=False)
    assert split_blocks(body)[1][0][0] == 3


def test_markers_inside_code_samples_still_hide():
    """Fail closed: whether Markdown renders a line as code is where a projection and a
    renderer could disagree, so a marker counts even in what looks like a code sample."""
    body = "```\n::: internal\nsecret\n:::\n```\nvisible\n"
    public = project_body(body, sees_internal=False)
    assert "secret" not in public and "visible" in public


@pytest.mark.parametrize("opener", ["::: internal", ":::internal", "::::  Internal",
                                    "   ::: internal"])
def test_marker_variants(opener):
    body = f"a\n\n{opener}\nsecret\n:::\n\nb\n"
    assert "secret" not in project_body(body, sees_internal=False)


def test_unclosed_fence_does_not_hide_a_marker():
    """Markdown shows an unclosed ``` as plain text, so the marker after it still counts."""
    body = "Intro\n\n```\nnot really code\n\n::: internal\nsecret limit\n:::\n\nTail\n"
    public = project_body(body, sees_internal=False)
    assert "secret limit" not in public and "Tail" in public
    from app.content.render import render

    assert "secret limit" not in render(public).html


def test_closed_fences_inside_internal_blocks():
    body = "::: internal\n```\n:::\n```\nstill internal\n:::\nPublic\n"
    public = project_body(body, sees_internal=False)
    assert "still internal" not in public and "Public" in public


def test_indented_markers_inside_list_items():
    body = "- Step one\n\n    ::: internal\n    secret step\n    :::\n\n- Step two\n"
    public = project_body(body, sees_internal=False)
    assert "secret step" not in public and "Step two" in public


def test_indented_code_sample_inside_internal_block_does_not_close_it():
    body = "::: internal\n- example:\n\n    ```\n    :::\n    ```\n\n  secret after\n:::\nPublic\n"
    public = project_body(body, sees_internal=False)
    assert "secret after" not in public and "Public" in public


def test_remembered_projections_keep_audiences_apart():
    body = "Public words.\n\n::: internal\nSecret words.\n:::\n"
    for _ in range(2):  # the second round is answered from memory
        for sees_internal in (True, False, True):
            shown = project_body(body, sees_internal=sees_internal)
            assert ("Secret words." in shown) is sees_internal
            assert "Public words." in shown
