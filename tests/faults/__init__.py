"""Fault tests: real PostgreSQL, Redis and platform fakes, with the faults injected from outside."""
