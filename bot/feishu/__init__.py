"""Feishu (飞书) bot: webhook intake in 1:1 and group chats, interactive dispatch cards, card callbacks."""
