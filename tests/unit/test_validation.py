"""Per-platform validation, and X's length against twitter-text's own conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.content import Content, MediaRef, Platform, ThreadPart
from domain.validation import RULES, rules_for, text_length, validate
from domain.x_length import x_count

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance" / "twitter-text" / "validate.yml"
SECTIONS = ("WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest")


def conformance_cases() -> list[Any]:
    tests = yaml.safe_load(CONFORMANCE.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(case, id=f"{section}: {case['description']}") for section in SECTIONS for case in tests[section]
    ]


@pytest.mark.parametrize("case", conformance_cases())
def test_x_weighted_length_passes_twitter_texts_conformance(case: dict[str, Any]) -> None:
    text, expected = case["text"], case["expected"]
    assert text_length(text, RULES[Platform.X]) == expected["weightedLength"]
    assert (validate(Content(text=text), RULES[Platform.X]) == []) == expected["valid"]


def test_every_conformance_case_is_run() -> None:
    assert len(conformance_cases()) == 24


def test_no_emoji_is_ascii_alone_and_x_refuses_no_ascii_character() -> None:
    """What lets an ASCII text skip twitter-text's emoji scan (`domain/x_length.py`)."""
    from twitter_text.regexp.emoji import emoji, emoji_list
    from twitter_text.regexp.invalid_chars import invalid_chars

    assert emoji_list and not [e for e in emoji_list if all(int(c, 16) < 128 for c in e.codepoint.split())]
    ascii_text = "".join(map(chr, range(128)))
    assert emoji.search(ascii_text * 2) is None and invalid_chars.search(ascii_text) is None


ASCII = ["https://", "http://", "www.", "example.com", ".org", "t.co/", "/path?q=1&b=2", "#tag", "@user", " "]
ASCII += ["\r\n", "."]
# keycaps (an ASCII start), accents composed or not, a joiner and a skin tone alone, characters
# X refuses, flags, families, symbols that are emoji
OTHERS = ["#\ufe0f\u20e3", "1\u20e3", "é", "e\u0301", "日本語", "\u200d", "\U0001f3fd", "\ufffe", "\u202a"]
OTHERS += ["😷", "👨\u200d👩\u200d👧\u200d👦", "🙋🏽", "🇫🇷", "©", "™", "❤\ufe0f", "\u2028"]


def _emoji() -> list[str]:
    from twitter_text.regexp.emoji import emoji_list

    return [entry.emoji for entry in emoji_list[::7]]


def _texts(named: st.SearchStrategy[str], alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(named, st.text(alphabet, max_size=40)), max_size=12).map("".join)


def _as_twitter_text_counts(text: str) -> tuple[int, bool]:
    from twitter_text import parse_tweet

    parsed = parse_tweet(text)
    return parsed.weightedLength, parsed.valid


@settings(max_examples=300, deadline=None)
@given(_texts(st.sampled_from(ASCII), st.characters(max_codepoint=127)))
def test_an_ascii_text_counts_as_twitter_text_counts_it(text: str) -> None:
    assert x_count(text) == _as_twitter_text_counts(text)


@settings(max_examples=500, deadline=None)
@given(_texts(st.one_of(st.sampled_from(ASCII + OTHERS), st.sampled_from(_emoji())), st.characters(codec="utf-8")))
def test_any_text_counts_as_twitter_text_counts_it(text: str) -> None:
    assert x_count(text) == _as_twitter_text_counts(text)


def test_a_too_long_thread_part_is_named_with_its_limit() -> None:
    content = Content(text="fine", thread=(ThreadPart(text="a" * 301),))
    (problem,) = validate(content, RULES[Platform.X])
    assert problem.message == "part 2: text is 301 weighted characters, X allows 280"
    assert (problem.part, problem.field, problem.limit, problem.actual) == (2, "text", 280, 301)


def test_bluesky_counts_graphemes_and_bytes() -> None:
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    assert validate(Content(text=family * 300), RULES[Platform.BLUESKY])[0].code == "text_too_many_bytes"
    assert validate(Content(text="é" * 300), RULES[Platform.BLUESKY]) == []
    assert validate(Content(text="é" * 301), RULES[Platform.BLUESKY])[0].code == "text_too_long"


def test_mastodon_uses_the_instance_limit_and_counts_urls_as_23() -> None:
    url = "https://example.com/" + "a" * 200
    assert text_length(f"see {url}", RULES[Platform.MASTODON]) == 4 + 23
    assert text_length("hi @alice@example.social", RULES[Platform.MASTODON]) == len("hi @alice")
    assert validate(Content(text="a" * 600), rules_for(Platform.MASTODON, max_characters=1000)) == []
    assert validate(Content(text="a" * 501), rules_for(Platform.MASTODON))[0].limit == 500


@pytest.mark.parametrize(("platform", "limit"), [(Platform.LINKEDIN, 3000), (Platform.THREADS, 500)])
def test_plain_character_limits(platform: Platform, limit: int) -> None:
    assert validate(Content(text="a" * limit), RULES[platform]) == []
    assert validate(Content(text="a" * (limit + 1)), RULES[platform])[0].limit == limit


def test_instagram_needs_media_and_counts_its_caption() -> None:
    codes = {p.code for p in validate(Content(text="a" * 2201), RULES[Platform.INSTAGRAM])}
    assert codes == {"media_required", "text_too_long"}
    assert validate(Content(text="caption", media=(MediaRef(ref="img1"),)), RULES[Platform.INSTAGRAM]) == []


def test_media_counts_mixes_and_alt_text() -> None:
    five = tuple(MediaRef(ref=f"i{n}") for n in range(5))
    assert validate(Content(text="x", media=five), RULES[Platform.X])[0].code == "too_many_media"
    mixed = (MediaRef(ref="i"), MediaRef(ref="v", kind="video"))
    assert validate(Content(text="x", media=mixed), RULES[Platform.X])[0].code == "media_mix"
    long_alt = (MediaRef(ref="i", alt_text="a" * 1001),)
    (problem,) = validate(Content(text="x", media=long_alt), RULES[Platform.X])
    assert problem.field == "media[0].alt_text" and "1001" in problem.message


def test_threads_are_refused_where_the_platform_has_none() -> None:
    content = Content(text="a", thread=(ThreadPart(text="b"),))
    assert validate(content, RULES[Platform.LINKEDIN])[0].code == "threads_unsupported"
