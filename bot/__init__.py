"""repairbot's outside: CLI, settings, the aiohttp app and every platform adapter."""
