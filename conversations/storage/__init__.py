"""Conversation state storage: one interface, an in-process backend and a Redis backend."""
from conversations.storage.base import StateStorage, StorageKey

__all__ = ["StateStorage", "StorageKey", "make_storage"]


def make_storage(redis_url: str = "", *, clock=None, prefix: str = "repairbot", pool_size: int = 50,
                 max_conversations: int | None = None):
    """Redis when a URL is given (several processes may share it), otherwise memory (one process, at most
    `max_conversations` held; Redis keys all carry a TTL)."""
    if redis_url:
        from conversations.storage.redis import RedisStorage
        return RedisStorage.from_url(redis_url, prefix=prefix, pool_size=pool_size)
    from conversations.storage.memory import MemoryStorage
    if max_conversations is None:
        return MemoryStorage(clock=clock)
    return MemoryStorage(clock=clock, max_keys=max_conversations)
