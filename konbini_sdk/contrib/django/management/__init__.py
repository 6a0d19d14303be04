"""Management commands of the konbini Django app."""
