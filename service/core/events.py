"""Core layer: event type names shared by state, reference data and the stream/ingest edges."""

from __future__ import annotations

from typing import Final

PROFILE_UPDATED: Final = "profile.updated"
IDENTITY_LINKED: Final = "identity.linked"
LOCATION_UPDATED: Final = "location.updated"
GEOFENCE_ENTERED: Final = "geofence.entered"
GEOFENCE_EXITED: Final = "geofence.exited"
GEOFENCE_DWELLED: Final = "geofence.dwelled"
APP_OPENED: Final = "app.opened"
SESSION_STARTED: Final = "session.started"
SESSION_ENDED: Final = "session.ended"
PRODUCT_VIEWED: Final = "product.viewed"
PRODUCT_SCANNED: Final = "product.scanned"
WISHLIST_ADDED: Final = "wishlist.added"
WISHLIST_REMOVED: Final = "wishlist.removed"
CART_ADDED: Final = "cart.added"
ORDER_PLACED: Final = "order.placed"
LOYALTY_UPDATED: Final = "loyalty.updated"
NOTIFICATION_OPENED: Final = "notification.opened"
CONTENT_CLICKED: Final = "content.clicked"

PRODUCT_UPSERTED: Final = "product.upserted"
STORE_UPSERTED: Final = "store.upserted"
STOCK_CHANGED: Final = "stock.changed"
WEATHER_OBSERVED: Final = "weather.observed"

CUSTOMER_EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {
        PROFILE_UPDATED,
        IDENTITY_LINKED,
        LOCATION_UPDATED,
        GEOFENCE_ENTERED,
        GEOFENCE_EXITED,
        GEOFENCE_DWELLED,
        APP_OPENED,
        SESSION_STARTED,
        SESSION_ENDED,
        PRODUCT_VIEWED,
        PRODUCT_SCANNED,
        WISHLIST_ADDED,
        WISHLIST_REMOVED,
        CART_ADDED,
        ORDER_PLACED,
        LOYALTY_UPDATED,
        NOTIFICATION_OPENED,
        CONTENT_CLICKED,
    }
)
"""Events keyed by customer_id that change the per-customer state."""

REFERENCE_EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {PRODUCT_UPSERTED, STORE_UPSERTED, STOCK_CHANGED, WEATHER_OBSERVED}
)
"""Events without customer_id that change the shared reference read model."""
