"""WeCom self-built app (自建应用): callback crypto, event parsing, API client, card rendering, messenger."""
