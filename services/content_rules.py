"""Will the platform take this content? The platform's rules, with the account's own limits
(a Mastodon instance's `max_characters`), checked at schedule time and again at claim time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from domain.content import Content, Platform
from domain.media import MediaInfo
from domain.validation import Rules, check, rules_for
from services.ports import AccountSettings

MediaFacts = Callable[[str, Iterable[str]], dict[str, MediaInfo]]  # (workspace, media ids) → the known ones


class ContentRules:
    def __init__(self, account_settings: AccountSettings | None = None, media: MediaFacts | None = None) -> None:
        self.account_settings = account_settings
        self.media = media

    def settings_of(self, workspace: str, account: str) -> dict[str, Any]:
        """The account's settings ({} for an account Herald does not know)."""
        return self.settings_of_many([(workspace, account)]).get((workspace, account), {})

    def settings_of_many(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """{(workspace, account): settings} of many accounts in one read ({} for one Herald does
        not know): a batch of posts checks its accounts' limits without a read per post."""
        wanted = [pair for pair in dict.fromkeys(pairs) if pair[1]]
        found = self.account_settings(wanted) if self.account_settings is not None and wanted else {}
        return {pair: found.get(pair, {}) for pair in wanted}

    def rules_for(
        self, platform: Platform, workspace: str = "default", account: str = "", settings: dict[str, Any] | None = None
    ) -> Rules:
        """The platform's content rules, with the account's own limits (given, or read)."""
        limit = (self.settings_of(workspace, account) if settings is None else settings).get("max_characters")
        return rules_for(platform, max_characters=int(limit) if limit else None)

    def check(
        self,
        platform: Platform,
        content: Content,
        workspace: str = "default",
        account: str = "",
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Raise `ContentInvalid` naming every problem the platform would refuse, each file's
        included (its format, size, shape, length, alt text) when the content has media. The
        account's `settings`, when given, are not read again."""
        files = self.media(workspace, content.media_ids) if self.media is not None and content.media_ids else None
        check(content, self.rules_for(platform, workspace, account, settings), files)
