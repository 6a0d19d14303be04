"""``manage.py konbini_emulator``."""
