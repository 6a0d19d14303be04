"""The demo shop in headless Chromium: the customer's whole Konbini journey, end to end.

Each test starts a fresh emulator and shop (in-process threads, free 127.0.0.1 ports) and
drives one session of Chromium. Waits are explicit (``WebDriverWait`` on what the customer
would see), never sleeps; the order page polls the shop every 50 ms in these tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from konbini_shop import OrderStatus, RunningShop

from konbini_sdk import Chain
from konbini_sdk.testing import Scenario

pytestmark = pytest.mark.browser

if not os.environ.get("CI"):
    # Elsewhere a missing selenium skips; under CI the import below fails the run.
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

#: Generous: a slow CI machine must never fail a correct shop.
TIMEOUT = 20
SCREENSHOTS = os.environ.get("KONBINI_SHOP_SCREENSHOTS")


def snap(driver: Any, name: str) -> None:
    """Save a screenshot when KONBINI_SHOP_SCREENSHOTS names a folder (to look at, not assert)."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.05)


def open_checkout(
    driver: Any, shop: RunningShop, product: str = "matcha", *, from_products: bool = False
) -> str:
    """To the checkout form; returns the order id.

    ``from_products``: through the product page and its link, as a customer arrives (the
    first test's whole journey); otherwise straight to the link's address (one page load
    less, the same server path: the order is created, then the form shown).
    """
    driver.delete_all_cookies()
    if from_products:
        driver.get(shop.url + "/")
        driver.find_element(By.CSS_SELECTOR, f"#product-{product} a.button").click()
    else:
        driver.get(f"{shop.url}/checkout/{product}")
    wait(driver).until(ec.presence_of_element_located((By.ID, "checkout")))
    parts = driver.current_url.rstrip("/").split("/")
    assert parts[-1] == "checkout"
    return str(parts[-2])


def fill(driver: Any, *, name: str, email: str, phone: str) -> None:
    """Type into the (fresh, empty) checkout form, key by key, as a customer does: the name,
    Tab to the email, Tab to the phone number (one driver command for the whole form)."""
    driver.find_element(By.ID, "name").send_keys(f"{name}{Keys.TAB}{email}{Keys.TAB}{phone}")
    values = driver.execute_script(
        "return ['name', 'email', 'phone'].map((id) => document.getElementById(id).value);"
    )
    assert values == [name, email, phone]


def pay(
    driver: Any,
    shop: RunningShop,
    *,
    email: str = "taro@example.com",
    phone: str = "090-1234-5678",
    product: str = "matcha",
    from_products: bool = False,
) -> str:
    """Check out and pay; waits for the instructions page. Returns the order id."""
    order_id = open_checkout(driver, shop, product, from_products=from_products)
    fill(driver, name="山田 太郎", email=email, phone=phone)
    driver.find_element(By.ID, "pay").click()
    wait(driver).until(ec.url_contains(f"/orders/{order_id}/instructions"))
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "table td.code")))
    return order_id


def intents_of(shop: RunningShop, order_id: str) -> list[dict[str, Any]]:
    """Every PaymentIntent the emulator holds for the order (read through its API)."""
    listing = shop.config.client.stripe_client.v1.payment_intents.list({"limit": 100})
    intents = [intent.to_dict() for intent in listing.data]
    return [i for i in intents if (i.get("metadata") or {}).get("order_id") == order_id]


def to_order_page(driver: Any, order_id: str) -> None:
    driver.find_element(By.ID, "order-link").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "status")))
    assert driver.current_url.endswith(f"/orders/{order_id}")


def advance(driver: Any, seconds: int) -> None:
    """Press a button of the test-mode panel."""
    driver.find_element(By.ID, f"advance-{seconds}").click()


def test_pay_and_see_every_stores_codes(browser: Any, shop: RunningShop) -> None:
    order_id = pay(browser, shop, from_products=True)
    snap(browser, "instructions")
    order = shop.config.orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.AWAITING_PAYMENT
    [intent] = intents_of(shop, order_id)
    details = intent["next_action"]["konbini_display_details"]
    # The codes as rendered (innerText, what WebElement.text reads too), in one call.
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('table td.code'), (c) => c.innerText);"
    )
    rows = browser.find_element(By.CSS_SELECTOR, "table tbody").text
    for chain in Chain:
        store = details["stores"][chain.value]
        assert store["payment_code"] in cells
        assert chain.display_name_ja in rows
    assert "1,980円" in browser.find_element(By.TAG_NAME, "main").text
    link = browser.find_element(By.CSS_SELECTOR, "p.link a")
    assert link.get_attribute("href") == details["hosted_voucher_url"]
    # The hosted voucher (here served by the emulator) opens from the link.
    link.click()
    wait(browser).until(ec.url_to_be(details["hosted_voucher_url"]))
    assert details["stores"]["lawson"]["payment_code"] in browser.page_source


def test_clock_advance_pays_and_fulfils(browser: Any, shop: RunningShop) -> None:
    order_id = pay(browser, shop)
    to_order_page(browser, order_id)
    assert "Waiting for your payment" in browser.find_element(By.ID, "status").text
    snap(browser, "order-waiting")
    advance(browser, 180)  # the default test scenario pays 3 minutes after the voucher
    fulfilled = wait(browser).until(ec.visibility_of_element_located((By.ID, "fulfilled")))
    assert "fulfilled" in fulfilled.text
    snap(browser, "order-fulfilled")
    assert shop.emulator is not None
    [intent] = intents_of(shop, order_id)
    assert intent["status"] == "succeeded"
    assert shop.emulator.wait_for_deliveries(TIMEOUT)
    assert any(
        d.event_type == "payment_intent.succeeded" and d.succeeded for d in shop.emulator.deliveries
    )


def test_expired_voucher_asks_for_another_method(browser: Any, shop: RunningShop) -> None:
    order_id = pay(browser, shop, email=Scenario.EXPIRE_IMMEDIATELY.email("taro"))
    to_order_page(browser, order_id)
    advance(browser, 3660)  # past the buffer after the deadline: payment_failed (expired)
    expired = wait(browser).until(ec.visibility_of_element_located((By.ID, "expired")))
    assert "another payment method" in expired.text
    snap(browser, "order-expired")
    order = shop.config.orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.EXPIRED
    # "Pay again" starts a new order for the same product.
    browser.find_element(By.ID, "retry").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "checkout")))
    assert order_id not in browser.current_url


def test_invalid_phone_is_shown_next_to_the_phone_field(browser: Any, shop: RunningShop) -> None:
    order_id = open_checkout(browser, shop)
    fill(browser, name="山田 太郎", email="taro@example.com", phone="03-1234")
    # Switch the browser's own checks off, as a script or an old browser would: the server's
    # SDK validation must catch it.
    browser.execute_script("document.getElementById('checkout').noValidate = true;")
    browser.find_element(By.ID, "pay").click()
    error = wait(browser).until(
        ec.text_to_be_present_in_element((By.ID, "phone-error"), "Phone number")
    )
    assert error
    snap(browser, "checkout-phone-error")
    field = browser.find_element(By.ID, "phone").find_element(By.XPATH, "..")
    assert "invalid" in field.get_attribute("class").split()
    assert browser.find_element(By.ID, "email-error").text == ""
    assert browser.find_element(By.ID, "name-error").text == ""
    assert intents_of(shop, order_id) == []


def test_client_side_validation_blocks_a_bad_email(browser: Any, shop: RunningShop) -> None:
    order_id = open_checkout(browser, shop)
    checkout_url = browser.current_url
    fill(browser, name="山田 太郎", email="not-an-email", phone="090-1234-5678")
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "email-error").text != "")
    assert browser.current_url == checkout_url
    email = browser.find_element(By.ID, "email")
    assert browser.execute_script("return arguments[0].validity.typeMismatch;", email)
    assert browser.find_element(By.ID, "pay").is_enabled()
    order = shop.config.orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.NEW
    assert intents_of(shop, order_id) == []
    assert shop.emulator is not None
    assert not any(e.method == "POST" for e in shop.emulator.requests)


def test_double_click_on_pay_makes_one_payment(browser: Any, shop: RunningShop) -> None:
    order_id = open_checkout(browser, shop)
    fill(browser, name="山田 太郎", email="taro@example.com", phone="090-1234-5678")
    ActionChains(browser).double_click(browser.find_element(By.ID, "pay")).perform()
    wait(browser).until(ec.url_contains(f"/orders/{order_id}/instructions"))
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "table td.code")))
    assert len(intents_of(shop, order_id)) == 1
    assert shop.emulator is not None
    assert len(shop.emulator.events("payment_intent.requires_action")) == 1


def test_two_pay_requests_at_once_make_one_payment(browser: Any, shop: RunningShop) -> None:
    # Past the page's own guard (as two tabs, or a browser resending, would): the server's
    # rule alone must hold. Both requests go out together from the browser.
    order_id = open_checkout(browser, shop)
    fill(browser, name="山田 太郎", email="taro@example.com", phone="090-1234-5678")
    urls = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const form = document.getElementById("checkout");
        const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
        Promise.all([send(), send()]).then(
            (answers) => done(answers.map((a) => a.status + " " + a.url)),
            (error) => done(["error " + error]),
        );
        """
    )
    target = f"200 {shop.url}/orders/{order_id}/instructions"
    assert urls == [target, target]
    assert len(intents_of(shop, order_id)) == 1
    assert shop.emulator is not None
    assert len(shop.emulator.events("payment_intent.requires_action")) == 1


def test_refund_shows_the_waiting_state(browser: Any, shop: RunningShop) -> None:
    order_id = open_checkout(browser, shop)
    # Paid at once: the voucher is already spent, so the shop shows the order page itself.
    fill(
        browser,
        name="山田 太郎",
        email=Scenario.SUCCEED_IMMEDIATELY.email("taro"),
        phone="0312345678",
    )
    browser.find_element(By.ID, "pay").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "fulfilled")))
    assert browser.current_url.endswith(f"/orders/{order_id}")
    browser.find_element(By.ID, "refund-button").click()
    waiting = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#refund.refund-requires_action"))
    )
    assert "waiting for your bank account details" in waiting.text
    snap(browser, "order-refund-waiting")
    order = shop.config.orders.get(order_id)
    assert order is not None
    assert order.refund_id is not None
    assert shop.emulator is not None
    refund = shop.emulator.get(order.refund_id)
    assert refund is not None
    assert refund["status"] == "requires_action"
    assert refund["amount"] == 1980
    # The customer enters Stripe's test bank account; a minute later the money is on its way.
    browser.find_element(By.ID, "submit-bank-account").click()
    wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#refund.refund-pending"))
    )
    advance(browser, 60)
    done = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#refund.refund-succeeded"))
    )
    assert "Refunded" in done.text
