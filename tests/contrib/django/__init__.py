"""Tests of konbini_sdk.contrib.django, with the shop project of tests/django_project."""
