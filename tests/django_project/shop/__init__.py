"""The shop app: orders fulfilled by webhook handlers."""
