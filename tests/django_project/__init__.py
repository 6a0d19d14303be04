"""A minimal Django project (a shop) wired to konbini_sdk.contrib.django, for the tests.

It is configured only when a test asks for it (:func:`tests.django_project.setup.configure`):
importing this package configures nothing, so the rest of the suite never sees Django settings.
"""
