"""X's weighted length of a text, and whether X takes it, as twitter-text counts them.

twitter-text looks for emoji with one regular expression of some 3,600 alternatives, tried at
every character: ~100 µs for a short text and ~1 ms for a full one, paid by the API for each
post and again by the dispatcher when it claims it. No emoji is made of ASCII characters
alone, and X refuses no ASCII character, so an ASCII text weighs what twitter-text's loop
would sum: 1 for each character and 23 for each URL (found by twitter-text's own extraction).
Any other text is counted by twitter-text itself. `tests/unit/test_validation.py` checks
both facts and compares the two counts on generated texts."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def x_count(text: str) -> tuple[int, bool]:
    """(weighted length, valid): valid when X takes the text (1 to 280, no refused character).
    twitter-text is imported on first use: it takes ~0.7 s to load, which every command would
    otherwise pay, `herald --help` included."""
    if text.isascii():
        return _ascii_count(text)
    from twitter_text import parse_tweet

    parsed = parse_tweet(text)
    return int(parsed.weightedLength), bool(parsed.valid)


def _ascii_count(text: str) -> tuple[int, bool]:
    from twitter_text.config import config
    from twitter_text.extract_urls import extract_urls_with_indices
    from twitter_text.parse_tweet import convert_line_ending

    options = config["defaults"]
    normalized = convert_line_ending(text)  # "\r\n" counts once; NFC leaves ASCII as it is
    urls = extract_urls_with_indices(normalized)
    weight = len(normalized) + sum(options["transformed_url_length"] - len(url["url"]) for url in urls)
    return weight, 0 < weight <= options["max_weighted_tweet_length"]
