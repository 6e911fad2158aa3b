"""Fault tests: real failures (a database that refuses, a Redis that fails or a process killed) on PostgreSQL + Redis."""
