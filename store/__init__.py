"""Persistence only: SQLAlchemy models, the database engine, migrations and the clock."""
