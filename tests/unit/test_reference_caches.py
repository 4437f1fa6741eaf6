"""Unit tests: the answers and views kept per reference change follow every stock and product change."""

from __future__ import annotations

from service.core import catalog
from service.core.reference import ReferenceData, apply_reference_event
from tests.factories import T0
from tests.unit.test_reference import product, stock


def test_in_stock_answers_follow_stock_changes() -> None:
    ref = ReferenceData()
    apply_reference_event(ref, stock(T0, 2, "in", size="M"))
    assert catalog.in_stock(ref, "p1", "M") is True
    assert catalog.in_stock(ref, "p1", "L") is False
    assert catalog.in_stock(ref, "p1", "M", where="S2") is False
    apply_reference_event(ref, stock(T0 + 1, 0, "out", size="M"))
    assert catalog.in_stock(ref, "p1", "M") is False
    apply_reference_event(ref, stock(T0 + 2, 1, "one-size"))  # one-size stock counts for any size
    assert catalog.in_stock(ref, "p1", "L") is True
    apply_reference_event(ref, stock(T0 + 3, 4, "s2", store="S2", size="M"))
    assert catalog.in_stock(ref, "p1", "M", where="S2") is True


def test_in_stock_answers_are_bounded() -> None:
    ref = ReferenceData()
    apply_reference_event(ref, stock(T0, 2, "in", size="M"))
    for n in range(catalog.MAX_STOCK_ANSWERS + 10):
        catalog.in_stock(ref, "p1", f"size-{n}")
    assert len(ref.stock_answers) <= catalog.MAX_STOCK_ANSWERS
    assert catalog.in_stock(ref, "p1", "M") is True


def test_item_follows_product_changes() -> None:
    ref = ReferenceData()
    apply_reference_event(ref, product("p1", image="p1.jpg"))
    first = catalog.item(ref, "p1", 0.5, "M")
    assert first == {"product_id": "p1", "name": "Name p1", "price": 10.0, "currency": "EUR", "image": "p1.jpg",
                     "size": "M", "score": 0.5}
    first["name"] = "changed by a caller"  # items are the caller's own: the next one is unaffected
    apply_reference_event(ref, product("p1", T0 + 1, price=8.0, on_sale=True))
    assert list(catalog.item(ref, "p1", 0.25).items()) == [
        ("product_id", "p1"), ("name", "Name p1"), ("price", 8.0), ("currency", "EUR"), ("on_sale", True),
        ("score", 0.25)]
    assert catalog.item(ref, "p9") == {"product_id": "p9"}
