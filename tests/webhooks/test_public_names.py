import konbini_sdk
import konbini_sdk.webhooks as webhooks


def test_webhooks_exports_are_sorted_documented_and_importable() -> None:
    assert webhooks.__all__ == sorted(webhooks.__all__)
    for name in webhooks.__all__:
        assert getattr(webhooks, name).__doc__, name


def test_main_webhook_names_are_exported_at_the_top_level() -> None:
    for name in (
        "WebhookProcessor",
        "WebhookResult",
        "PaymentSucceeded",
        "SQLiteEventStore",
        "PostgresEventStore",
        "MemoryEventStore",
        "VoucherIssued",
        "EventStore",
    ):
        assert getattr(konbini_sdk, name) is getattr(webhooks, name)
