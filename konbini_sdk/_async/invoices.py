"""The invoice service: Konbini invoices for an order (draft, items, finalize, send).

Each public method is one operation: one INFO ``konbini.operation`` line naming the
invoice and its status (WARNING when it fails); the requests inside log their attempts at
DEBUG. The request models and the Konbini rules are :mod:`konbini_sdk._billing`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import stripe

from konbini_sdk._async.engine import AsyncEngineOwner
from konbini_sdk._billing import KonbiniInvoiceRequest
from konbini_sdk._idempotency import KeyChain, invoice_key, order_key
from konbini_sdk._stripe_errors import Operation

__all__ = ["AsyncInvoices"]


class AsyncInvoices:
    """Konbini invoices through the client: create, finalize, send.

    ``AsyncInvoices(client)`` (sync: ``Invoices(client)``). Every step is retried with the
    client's policy; creation steps carry idempotency keys derived from the order id, so
    running :meth:`create_and_send` again for the same order (after a crash or a timeout)
    continues the same invoice.
    """

    def __init__(self, client: AsyncEngineOwner) -> None:
        self._engine = client.engine
        self._v1 = client.engine.stripe_client.v1

    async def create_draft(
        self, request: KonbiniInvoiceRequest, *, order_id: str
    ) -> stripe.Invoice:
        """Create the order's draft invoice and its items; return the draft as it is now."""
        return await self._logged(
            "create_invoice_draft",
            {"order_id": order_id},
            lambda: self._create_draft(request, order_id),
        )

    async def finalize(self, invoice_id: str) -> stripe.Invoice:
        """Finalize a draft: it gets its number, ``hosted_invoice_url`` and becomes ``open``."""
        return await self._logged(
            "finalize_invoice", {"invoice_id": invoice_id}, lambda: self._finalize(invoice_id)
        )

    async def send(self, invoice_id: str) -> stripe.Invoice:
        """Email the open invoice to the customer (test mode: only to the account's address)."""
        return await self._logged(
            "send_invoice", {"invoice_id": invoice_id}, lambda: self._send(invoice_id)
        )

    async def retrieve(self, invoice_id: str) -> stripe.Invoice:
        """Return the invoice's current state."""
        return await self._logged(
            "retrieve_invoice", {"invoice_id": invoice_id}, lambda: self._retrieve(invoice_id)
        )

    async def create_and_send(
        self, request: KonbiniInvoiceRequest, *, order_id: str
    ) -> stripe.Invoice:
        """Create, finalize and send the order's Konbini invoice; return the sent invoice.

        The customer opens ``hosted_invoice_url`` and chooses Konbini there, which issues
        the voucher. Fulfil on ``invoice.paid`` (or when :meth:`retrieve` says ``paid``).
        """
        context = {"order_id": order_id}
        return await self._logged(
            "create_and_send_invoice", context, lambda: self._create_and_send(request, order_id)
        )

    # ---------------------------------------------------------------- steps

    async def _logged(
        self,
        operation: str,
        context: Mapping[str, Any],
        step: Callable[[], Awaitable[stripe.Invoice]],
    ) -> stripe.Invoice:
        """Run ``step`` as one public operation; its line names the invoice and status."""
        with self._engine.operation(operation, context) as op:
            invoice = await step()
            op.done(invoice_id=invoice.id, status=invoice.status)
            return invoice

    async def _create_and_send(
        self, request: KonbiniInvoiceRequest, order_id: str
    ) -> stripe.Invoice:
        draft = await self._create_draft(request, order_id)
        invoice_id = str(draft.id)
        await self._finalize(invoice_id)
        return await self._send(invoice_id)

    async def _create_draft(self, request: KonbiniInvoiceRequest, order_id: str) -> stripe.Invoice:
        params = request.to_stripe_params(order_id)
        context = {"order_id": order_id}
        answer = await self._engine.send(
            "create",
            lambda options: self._v1.invoices.create_async(params, options),
            chain=KeyChain(order_key(order_id, "invoice")),
            context=context,
        )
        invoice_id = str(answer.value.id)
        for index, item in enumerate(request.item_params(invoice_id)):
            await self._engine.send(
                "create",
                functools.partial(self._v1.invoice_items.create_async, item),
                chain=KeyChain(order_key(order_id, f"invoice_item_{index}")),
                context={**context, "invoice_id": str(item.get("invoice"))},
            )
        return await self._retrieve(invoice_id)

    async def _finalize(self, invoice_id: str) -> stripe.Invoice:
        current = await self._retrieve(invoice_id)
        if current.status != "draft":
            return current
        finalize = self._v1.invoices.finalize_invoice_async
        params = {"auto_advance": False}
        return await self._on_invoice("update", finalize, invoice_id, params, key="finalize")

    async def _send(self, invoice_id: str) -> stripe.Invoice:
        send = self._v1.invoices.send_invoice_async
        return await self._on_invoice("other", send, invoice_id, key="send")

    async def _retrieve(self, invoice_id: str) -> stripe.Invoice:
        return await self._on_invoice("retrieve", self._v1.invoices.retrieve_async, invoice_id)

    async def _on_invoice(
        self,
        operation: Operation,
        method: Callable[[str, Any, stripe.RequestOptions], Awaitable[stripe.Invoice]],
        invoice_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> stripe.Invoice:
        """Send ``method(invoice_id, params, options)`` on the engine; the invoice answered.

        ``key`` names the step in the idempotency key (``invoice_key(invoice_id, key)``);
        a read has none.
        """
        chain = None if key is None else KeyChain(invoice_key(invoice_id, key))
        answer = await self._engine.send(
            operation,
            functools.partial(method, invoice_id, params),
            chain=chain,
            context={"invoice_id": invoice_id},
        )
        return answer.value
