"""Alt text, keywords and SEO filenames composed from signal findings (pure functions)."""

from __future__ import annotations

import re

import pytest

from mediaforge.tagging.seo import (
    MAX_FILENAME,
    Findings,
    compose_alt_text,
    rank_keywords,
    seo_filename,
    slugify,
)

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


# --- slugs and filenames -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello-world"),
        ("Zürich Café — Straße 5", "zurich-cafe-strasse-5"),
        ("  Øresund   Łódź  ", "oresund-lodz"),
        ("under_score & ampersand", "under-score-ampersand"),
        ("日本語", ""),
    ],
    ids=["punctuation", "accents", "special-letters", "separators", "no-latin"],
)
def test_slugify_folds_to_lowercase_ascii_words(text: str, expected: str) -> None:
    """Accents fold to ASCII, everything else that is not a letter or digit separates words."""
    assert expected == slugify(text)


def test_slugify_cuts_at_a_word_boundary() -> None:
    """A slug longer than the limit keeps whole words only."""
    assert "alpha-beta" == slugify("alpha beta gamma", max_length=12)


def test_slugify_cuts_a_single_long_word() -> None:
    """One word longer than the limit is truncated rather than dropped."""
    assert "abcde" == slugify("abcdefgh", max_length=5)


def test_filename_keeps_the_extension_within_60_characters() -> None:
    """The filename is a slug of the alt text's content words plus the extension, 60 chars at most."""
    alt = "A very long description of a beautiful mountain landscape at sunset with lakes and forests"
    name = seo_filename(alt, [], "JPG")
    stem = name.removesuffix(".jpg")
    assert ("very-long-description-beautiful-mountain-landscape", True) == (
        stem,
        len(name) <= MAX_FILENAME,
    )
    assert SLUG.fullmatch(stem)


def test_filename_drops_filler_words() -> None:
    """Articles, prepositions and words like 'photo' or 'mostly' are not in the filename."""
    assert "egyptian-cat-brown-gray.png" == seo_filename(
        "A photo of an Egyptian cat, mostly brown and gray.", [], "png"
    )


def test_filename_falls_back_to_keywords_then_image() -> None:
    """Without content words in the alt text the keywords name the file, and without those 'image'."""
    expected = ("red-car.webp", "image.webp", "image")
    assert expected == (
        seo_filename("...", ["Red", "car"], ".webp"),
        seo_filename("", [], "webp"),
        seo_filename("", [], ""),
    )


# --- alt text ------------------------------------------------------------------------------
def test_alt_text_names_a_confident_label_and_the_main_colours() -> None:
    """A confident label becomes the subject, with an article; the two main colours follow."""
    findings = Findings(
        labels=[("Egyptian cat", 0.71), ("tabby", 0.13)], colors=[("brown", 0.5), ("gray", 0.4)]
    )
    assert "An Egyptian cat, mostly brown and gray." == compose_alt_text(findings)


def test_alt_text_leaves_out_unconfident_labels() -> None:
    """Labels under 0.3 are not claimed in the alt text."""
    findings = Findings(labels=[("bobsled", 0.19)], persons=1, faces=1)
    assert "A person." == compose_alt_text(findings)


def test_alt_text_uses_a_confident_group_when_no_label_is() -> None:
    """Three cat breeds at 0.3 each are no breed, but certainly a cat."""
    findings = Findings(labels=[("tabby", 0.29), ("tiger cat", 0.28)], groups=[("cat", 0.9)])
    assert "A cat." == compose_alt_text(findings)


def test_alt_text_counts_people_and_quotes_text() -> None:
    """People are counted in words and the text read in the image is quoted."""
    findings = Findings(persons=3, faces=3, text=["HAPPY BIRTHDAY", "ANNA"])
    assert 'Three people with the text "HAPPY BIRTHDAY ANNA".' == compose_alt_text(findings)


def test_alt_text_for_text_alone() -> None:
    """An image holding only text reads as that text."""
    findings = Findings(text=['Say "hi"'], colors=[("white", 0.9)])
    assert "Text reading \"Say 'hi'\", mostly white." == compose_alt_text(findings)


def test_alt_text_with_nothing_found_claims_nothing() -> None:
    """With no findings at all the alt text says only that it is an image."""
    assert ("An image.", "An image in red.") == (
        compose_alt_text(Findings()),
        compose_alt_text(Findings(colors=[("red", 1.0)])),
    )


def test_alt_text_shortens_long_text() -> None:
    """Quoted text is cut at a word boundary with an ellipsis."""
    alt = compose_alt_text(Findings(text=["word " * 40]))
    assert ('…".', True) == (alt[-3:], len(alt) < 100)


# --- keywords ------------------------------------------------------------------------------
def test_keywords_rank_labels_people_text_then_colours() -> None:
    """Confident labels lead, then people, words read, 'text', and colours last."""
    findings = Findings(
        labels=[("Egyptian cat", 0.7), ("bobsled", 0.05)],
        groups=[("cat", 0.99)],
        persons=1,
        faces=1,
        text=["Happy Birthday"],
        colors=[("brown", 0.6), ("gray", 0.4)],
    )
    expected = ["cat", "egyptian cat", "person", "happy", "birthday", "text", "brown", "gray"]
    assert expected == rank_keywords(findings)


def test_keywords_put_the_vision_model_first_and_deduplicate() -> None:
    """The vision model's keywords lead in its order; repeats in any case or spacing appear once."""
    findings = Findings(labels=[("Tabby", 0.8)], colors=[("brown", 1.0)])
    keywords = rank_keywords(findings, vision=["Cat", "tabby ", "cat", "Sleeping  cat"])
    assert ["cat", "tabby", "sleeping cat", "brown"] == keywords


def test_keywords_are_limited() -> None:
    """At most ``limit`` keywords come back."""
    findings = Findings(text=["alpha beta gamma delta epsilon"], colors=[("red", 1.0)])
    assert ["alpha", "beta"] == rank_keywords(findings, limit=2)
