"""Migrations of the konbini Django app (the event store's tables)."""
