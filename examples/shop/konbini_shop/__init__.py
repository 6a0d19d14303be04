"""A merchant's demo shop on konbini-sdk: the whole Konbini journey, as the customer sees it."""

from .orders import PRODUCTS, Order, OrderStatus, OrderStore, Product
from .server import RunningShop, run_offline, serve_app
from .web import ShopConfig, create_app

__all__ = [
    "PRODUCTS",
    "Order",
    "OrderStatus",
    "OrderStore",
    "Product",
    "RunningShop",
    "ShopConfig",
    "create_app",
    "run_offline",
    "serve_app",
]
