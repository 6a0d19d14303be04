"""Integrations with web frameworks, each behind its own extra (``konbini-sdk[django]``)."""
