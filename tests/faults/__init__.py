"""Fault tests: real failures (a database that refuses or vanishes, a Redis that fails or restarts, a platform down, a process killed), injected from outside."""
