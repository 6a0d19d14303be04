"""Generated from ``konbini_sdk/_async/`` by ``scripts/unasync.py``: do not edit by hand."""
