"""The REST API /api/v1: tickets for operator scripts and the duty desk, bearer-token protected."""
