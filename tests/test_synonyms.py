"""synonyms.yml: tolerant reading, and adding a synonym without losing the file's layout."""

import pytest

from app.content.synonyms import parse, with_synonym

TEXT = """# Words in one group are searched as one.
- [refund, money back, reimbursement]
- [cancel, terminate]
"""


def test_parse_and_tolerate_bad_files():
    assert parse(TEXT) == [["refund", "money back", "reimbursement"], ["cancel", "terminate"]]
    assert parse("- [oops") == []
    assert parse("just: a mapping") == []
    assert parse("- [lonely]\n- 5\n- [A,  B ]") == [["a", "b"]]


def test_add_to_existing_group_keeps_comments():
    out = with_synonym(TEXT, "Repayment", "money back")
    assert out.startswith("# Words in one group")
    assert "- [refund, money back, reimbursement, repayment]" in out
    assert parse(out)[1] == ["cancel", "terminate"]
    assert with_synonym(out, "repayment", "refund") == out  # already there


def test_new_group():
    out = with_synonym(TEXT, "bnpl", "pay later")
    assert out.endswith("- [pay later, bnpl]\n")
    assert with_synonym("", "a b", "c") == "- [c, a b]\n"


@pytest.mark.parametrize("term, target", [("x]\n- [y", "refund"), ("refund", "refund"),
                                          ("", "refund"), ("a" * 61, "refund"),
                                          ("ok", "{evil: 1}")])
def test_bad_terms_refused(term, target):
    with pytest.raises(ValueError):
        with_synonym(TEXT, term, target)
