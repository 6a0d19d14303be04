"""Settings of the test shop: also usable as DJANGO_SETTINGS_MODULE (the command's test).

The SQLite file comes from ``KONBINI_DJANGO_SQLITE`` (in-memory when unset).
"""

import os

SECRET_KEY = "django-insecure-test-shop-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
INSTALLED_APPS = ["konbini_sdk.contrib.django", "tests.django_project.shop"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the webhook view must be exempt
]
ROOT_URLCONF = "tests.django_project.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("KONBINI_DJANGO_SQLITE", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None  # the tests read the SDK's logs; Django's console handlers stay off

KONBINI_WEBHOOK_SECRETS = ["whsec_django_test_shop_new", "whsec_django_test_shop_old"]
KONBINI_WEBHOOK_TOLERANCE = 300
KONBINI_WEBHOOK_HANDLERS = {
    "VoucherIssued": "tests.django_project.shop.payments.send_voucher",
    "PaymentSucceeded": "tests.django_project.shop.payments.fulfil",
}
