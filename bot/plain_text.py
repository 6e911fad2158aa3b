"""Text messages that still honour a tag (WeCom and Official Account text turn <a href> into a link)."""
from __future__ import annotations

import re

# `<a` and `</a`, however spaced: a zero-width space after `<` keeps every character the person typed
# visible while the platform no longer sees a tag (Feishu's <at> is broken the same way in bot/feishu).
_LINK_TAG = re.compile(r"<(\s*/?\s*a\b)", re.IGNORECASE)


def no_links(text: str) -> str:
    """Resident text (a description shown to staff, or to a BR-4 watcher) must not become a link."""
    return _LINK_TAG.sub(lambda m: "<\u200b" + m.group(1), text)
