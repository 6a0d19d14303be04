"""A URLconf without the webhook view (the command's error when it cannot find it)."""

urlpatterns: list[object] = []
