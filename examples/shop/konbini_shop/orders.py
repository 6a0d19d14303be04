"""The shop's orders, kept in SQLite (stdlib only).

An order is created when the checkout form is rendered, so its id travels in the form and a
second "pay" of the same form (a double click, a reload, a retry) is the same order: the SDK's
``pay_order`` then returns the same PaymentIntent and voucher.

No personal data is stored here: name, email and phone go to Stripe with the confirmation and
are read back from Stripe (the voucher) when the instructions page needs them.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class OrderStatus(StrEnum):
    """Where an order stands, as the customer sees it."""

    #: Checkout form shown; not paid for yet.
    NEW = "new"
    #: Voucher issued: the customer is to pay at a konbini before the deadline.
    AWAITING_PAYMENT = "awaiting_payment"
    #: Paid at the store (``payment_intent.succeeded``) and handed to fulfilment.
    FULFILLED = "fulfilled"
    #: The voucher's deadline passed unpaid (``payment_intent.payment_failed``, expired).
    EXPIRED = "expired"
    #: The payment failed for another reason.
    FAILED = "failed"
    #: The PaymentIntent was canceled; the voucher is void.
    CANCELED = "canceled"


@dataclass(frozen=True)
class Product:
    """Something the shop sells, priced in yen."""

    id: str
    name: str
    name_en: str
    price: int
    #: What the store's receipt shows: at most 22 Shift JIS characters (checked by the SDK).
    product_description: str


PRODUCTS: dict[str, Product] = {
    product.id: product
    for product in (
        Product("matcha", "宇治抹茶 100g", "Uji matcha, 100 g", 1_980, "宇治抹茶100g"),
        Product("tenugui", "手ぬぐい（富士山）", "Tenugui towel, Mt Fuji", 1_200, "手ぬぐい富士山"),
        Product("kyusu", "常滑焼 急須", "Tokoname teapot", 6_800, "常滑焼急須"),
    )
}


@dataclass(frozen=True)
class Order:
    """One order row."""

    id: str
    product_id: str
    amount: int
    status: OrderStatus
    created_at: float
    payment_intent_id: str | None = None
    hosted_voucher_url: str | None = None
    expires_at: int | None = None
    paid_at: float | None = None
    fulfilled_at: float | None = None
    refund_id: str | None = None
    refund_status: str | None = None
    refund_expires_at: int | None = None

    @property
    def product(self) -> Product:
        """The product ordered."""
        return PRODUCTS[self.product_id]

    @property
    def refundable(self) -> bool:
        """Whether the refund button applies: paid, and no refund asked for yet."""
        return self.status is OrderStatus.FULFILLED and self.refund_id is None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    payment_intent_id TEXT UNIQUE,
    hosted_voucher_url TEXT,
    expires_at INTEGER,
    paid_at REAL,
    fulfilled_at REAL,
    refund_id TEXT,
    refund_status TEXT,
    refund_expires_at INTEGER
)
"""

_COLUMNS = (
    "id, product_id, amount, status, created_at, payment_intent_id, hosted_voucher_url, "
    "expires_at, paid_at, fulfilled_at, refund_id, refund_status, refund_expires_at"
)


class OrderStore:
    """Orders in one SQLite file; safe to use from the web server's threads."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        with self._transaction() as conn:
            conn.execute(_SCHEMA)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: the web server runs each request in its own thread.
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def create(self, product: Product) -> Order:
        """Create a new order for ``product`` (done when the checkout form is rendered)."""
        order = Order(
            id="ord_" + secrets.token_urlsafe(12),
            product_id=product.id,
            amount=product.price,
            status=OrderStatus.NEW,
            created_at=time.time(),
        )
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO orders (id, product_id, amount, status, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (order.id, order.product_id, order.amount, order.status.value, order.created_at),
            )
        return order

    def get(self, order_id: str) -> Order | None:
        """Return the order, or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE id = ?",  # noqa: S608 (constant columns)
                (order_id,),
            ).fetchone()
        return _order(row) if row else None

    def find(self, *, order_id: str | None, payment_intent_id: str | None) -> Order | None:
        """Find an order by its id (the intent's ``metadata.order_id``) or by its intent."""
        if order_id:
            order = self.get(order_id)
            if order is not None:
                return order
        if payment_intent_id:
            with self._read() as conn:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM orders WHERE payment_intent_id = ?",  # noqa: S608
                    (payment_intent_id,),
                ).fetchone()
            return _order(row) if row else None
        return None

    def all(self) -> list[Order]:
        """Every order, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM orders ORDER BY created_at DESC"  # noqa: S608
            ).fetchall()
        return [_order(row) for row in rows]

    def voucher_issued(
        self, order_id: str, payment_intent_id: str, hosted_voucher_url: str, expires_at: int
    ) -> None:
        """Record the order's voucher; a new (re-issued) voucher replaces the old one.

        Only a ``new`` or ``awaiting_payment`` order takes a voucher: a late voucher event
        never turns a fulfilled order back.
        """
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET status = ?, payment_intent_id = ?, hosted_voucher_url = ?, "
                "expires_at = ? WHERE id = ? AND status IN (?, ?)",
                (
                    OrderStatus.AWAITING_PAYMENT.value,
                    payment_intent_id,
                    hosted_voucher_url,
                    expires_at,
                    order_id,
                    OrderStatus.NEW.value,
                    OrderStatus.AWAITING_PAYMENT.value,
                ),
            )

    def paid_and_fulfilled(self, order_id: str, payment_intent_id: str) -> bool:
        """Mark the order paid and fulfilled; ``False`` if it already was (nothing changes)."""
        now = time.time()
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE orders SET status = ?, payment_intent_id = ?, paid_at = ?, "
                "fulfilled_at = ? WHERE id = ? AND status != ?",
                (
                    OrderStatus.FULFILLED.value,
                    payment_intent_id,
                    now,
                    now,
                    order_id,
                    OrderStatus.FULFILLED.value,
                ),
            )
            return cursor.rowcount == 1

    def payment_ended(self, order_id: str, status: OrderStatus) -> None:
        """Mark an unpaid order expired, failed or canceled (a paid one stays paid)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET status = ? WHERE id = ? AND status IN (?, ?)",
                (
                    status.value,
                    order_id,
                    OrderStatus.NEW.value,
                    OrderStatus.AWAITING_PAYMENT.value,
                ),
            )

    def refund_changed(
        self, order_id: str, refund_id: str, status: str, expires_at: int | None
    ) -> None:
        """Record the order's refund and its latest status."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE orders SET refund_id = ?, refund_status = ?, "
                "refund_expires_at = COALESCE(?, refund_expires_at) WHERE id = ?",
                (refund_id, status, expires_at, order_id),
            )


def _order(row: tuple[Any, ...]) -> Order:
    values = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    values["status"] = OrderStatus(values["status"])
    return Order(**values)
