"""Alembic migrations of the repairbot schema (shipped inside the wheel)."""
