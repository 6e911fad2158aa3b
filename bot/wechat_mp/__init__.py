"""WeChat Official Account (公众号) channel: webhook, processing, customer-service messages."""
