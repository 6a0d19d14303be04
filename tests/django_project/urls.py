"""The shop's URLs: the webhook endpoint where Stripe (here: the emulator) sends events."""

from django.urls import path

from konbini_sdk.contrib.django import webhook_view

urlpatterns = [path("webhooks/stripe/", webhook_view)]
