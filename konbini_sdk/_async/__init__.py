"""The async source of the SDK's I/O: the engine, the PaymentIntent flows and the services.

Edit these modules only; ``konbini_sdk/_sync/`` is generated from them by
``scripts/unasync.py`` (``tests/test_unasync.py`` fails when a twin is out of date).
"""
