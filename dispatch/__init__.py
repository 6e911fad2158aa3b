"""The ticket domain: creation, numbering, duplicates, queries and (later) dispatch actions."""
