"""X's weighted length of a text, and whether X takes it, as twitter-text counts them.

twitter-text finds emoji with one regular expression of some 3,600 alternatives, tried at
every character: ~100 µs for a short text and ~1 ms for a full one, paid by the API for each
post and again by the dispatcher when it claims it. Here the same expression is tried only
where an emoji can begin (a character that starts one of twitter-text's emoji), which finds
the same emoji; and an ASCII text, which holds no emoji and no character X refuses, weighs 1 a
character and 23 a URL. The rest is twitter-text's own loop and its own parts (URLs, weights,
refused characters). `tests/unit/test_validation.py` runs twitter-text's conformance suite
and compares both counts on generated texts."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def x_count(text: str) -> tuple[int, bool]:
    """(weighted length, valid): valid when X takes the text (1 to 280, no refused character).
    twitter-text is imported on first use: it takes ~0.7 s to load, which every command would
    otherwise pay, `herald --help` included."""
    from twitter_text.config import config
    from twitter_text.extract_urls import extract_urls_with_indices
    from twitter_text.parse_tweet import convert_line_ending

    options = config["defaults"]
    scale, most = options["scale"], options["max_weighted_tweet_length"]
    normalized = convert_line_ending(unicodedata.normalize("NFC", text))  # "\r\n" counts once
    urls = {url["indices"][0]: url["url"] for url in extract_urls_with_indices(normalized)}
    if normalized.isascii():
        weight = len(normalized) + sum(options["transformed_url_length"] - len(url) for url in urls.values())
        return weight, 0 < weight <= most
    emoji = _emoji_at(normalized) if options["emoji_parsing_enabled"] else {}
    total, valid, index = 0, True, 0
    while index < len(normalized):  # twitter-text's `parse_tweet` loop
        if index in urls:
            total += options["transformed_url_length"] * scale
            index += len(urls[index]) - 1
        elif index in emoji:
            total += options["default_weight"]
            index += len(emoji[index]) - 1
        else:
            total += _weight(normalized[index])
        valid = valid and not _refused(normalized[index])
        index += 1
    weight = int(total / scale)
    return weight, valid and 0 < weight <= most


def _emoji_at(text: str) -> dict[int, str]:
    """{start: emoji} as twitter-text's `extract_emojis_with_indices` finds them: its expression,
    tried only where a character can begin one (elsewhere no match starts)."""
    expression, starts = _emoji_expression()
    found: dict[int, str] = {}
    index = 0
    while index < len(text):
        match = expression.match(text, index) if text[index] in starts else None
        if match and match.end() > index:
            found[index] = match.group(0)
            index = match.end()
        else:
            index += 1
    return found


@lru_cache(maxsize=1)
def _emoji_expression() -> tuple[Any, frozenset[str]]:
    """twitter-text's emoji expression, and every character one of its emoji can begin with:
    the first code point of each emoji, and each code point of its single-character ranges."""
    from twitter_text.regexp.emoji import emoji, emoji_list, single_codepoint_emoji_ranges

    starts = {chr(int(entry.codepoint.split()[0], 16)) for entry in emoji_list}
    starts |= {chr(code) for low, high in single_codepoint_emoji_ranges for code in range(low, high + 1)}
    return emoji, frozenset(starts)


@lru_cache(maxsize=4096)
def _weight(character: str) -> int:
    from twitter_text.config import config
    from twitter_text.get_character_weight import get_character_weight

    return int(get_character_weight(character, config["defaults"]))


@lru_cache(maxsize=4096)
def _refused(character: str) -> bool:
    from twitter_text.has_invalid_characters import has_invalid_characters

    return bool(has_invalid_characters(character))
