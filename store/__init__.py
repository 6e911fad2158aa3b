"""Persistence only: SQLAlchemy models, the database, migrations and the clock."""
