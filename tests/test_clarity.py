"""Clarity checks on fixed texts: true positives, and silence on precise writing."""

import pytest

from app.lifecycle.clarity import (
    check,
    prose_sentences,
    reading_grade,
    syllables,
    undefined_jargon,
    vague_promises,
)


@pytest.mark.parametrize("sentence, phrase", [
    ("We will reply to your email quickly.", "quickly"),
    ("Refunds are processed as soon as possible.", "as soon as possible"),
    ("Agents should escalate promptly.", "promptly"),
    ("A supervisor will call you back soon.", "soon"),
    ("We handle complaints in a timely manner.", "in a timely manner"),
    ("Your parcel will ship shortly.", "shortly"),
    ("Reply ASAP when a customer writes.", "ASAP"),
])
def test_vague_promises_are_flagged_with_a_hint(sentence, phrase):
    findings = vague_promises(prose_sentences(sentence))
    assert len(findings) == 1
    assert phrase in findings[0].message
    assert findings[0].excerpt == sentence
    assert findings[0].hint.startswith(("say", "give"))


@pytest.mark.parametrize("sentence", [
    "We reply to email within 24 hours.",
    "We reply quickly: within 4 working hours.",
    "Refunds reach your account within five working days.",
    "The soonest delivery slot is the next working day.",
    "Our chat team answers in under 2 minutes.",
    "Promptness matters, so we track a 24-hour target.",
])
def test_precise_sentences_are_not_flagged(sentence):
    assert vague_promises(prose_sentences(sentence)) == []


def test_code_tables_and_headings_are_not_prose():
    text = "## Quickly\n\n```\nsoon()\n```\n\n| a | soon |\n|---|---|\n\nFine text here."
    assert prose_sentences(text) == ["Fine text here."]


def test_list_items_and_links_become_plain_sentences():
    text = "- Read [the refund policy](/policies/refunds) first.\n- Then call."
    assert prose_sentences(text) == ["Read the refund policy first.", "Then call."]


@pytest.mark.parametrize("word, count", [("cat", 1), ("refund", 2), ("policy", 3),
                                         ("reimbursement", 4), ("delivery", 4)])
def test_syllables(word, count):
    assert syllables(word) == count


def test_reading_grade_orders_plain_and_dense_text():
    plain = ["We pay you back in five days.", "You can send it back for free.",
             "Call us if you need help.", "We are open every day from 8 am.",
             "Keep the box and the receipt."] * 2
    dense = ["Reimbursement eligibility determinations necessitate comprehensive "
             "documentation substantiating the contemporaneous circumstances.",
             "Organisational accountability considerations notwithstanding, "
             "exceptional authorisation requires managerial concurrence."] * 3
    assert reading_grade(plain) < 6 < 14 < reading_grade(dense)
    assert reading_grade(["Too short."]) is None


def test_long_sentence_and_long_document():
    long_sentence = " ".join(["word"] * 40) + "."
    findings = check(long_sentence)
    assert [f.rule for f in findings] == ["long-sentence"]
    assert "40 words" in findings[0].message
    long_doc = "\n\n".join(["This is a short and plain sentence for you."] * 130)
    assert [f.rule for f in check(long_doc)] == ["length"]


def test_grade_target_applies_to_public_text_only():
    dense = " ".join(["Reimbursement eligibility determinations necessitate comprehensive "
                      "documentation substantiating circumstances."] * 6)
    assert [f.rule for f in check(dense)] == []
    assert [f.rule for f in check(dense, public_text=dense)] == ["grade"]


def test_jargon():
    jargon = [{"term": "AHT", "hint": "average handling time"}, {"term": "RMA", "hint": ""}]
    assert [f.excerpt for f in undefined_jargon("Keep AHT low. Use an RMA.", jargon)] == [
        "AHT", "RMA"]
    assert undefined_jargon("Keep average handling time (AHT) low.", jargon) == []
    assert undefined_jargon("The PATH variable and ARMA models.", jargon) == []


def test_precise_sample_text_has_no_findings():
    text = """We answer email within 24 hours, seven days a week.

## Phone

Call us from 8 am to 8 pm. We answer 80% of calls within 2 minutes.

- Refunds reach your card within 5 working days.
- Returns are free for 30 days.
"""
    assert check(text, public_text=text) == []
