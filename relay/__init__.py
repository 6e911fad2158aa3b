"""The relay: the platform-neutral pipeline between the channels and the conversations (inbox in, outbox out)."""
