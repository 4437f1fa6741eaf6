"""Core layer: event type names shared by state, reference data and the stream/ingest edges."""

from __future__ import annotations

import re
from typing import Final

# The rule of common.schema.json's event_id, customer_id and entity_id, for ids checked outside
# schema validation (URL paths, ids echoed in answers): 1 to 128 characters, no white space at
# either end, no control characters.
_ID = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?")
CUSTOMER_ID_RULE: Final = ("a customer id has 1 to 128 characters, no white space at either end and no "
                           "control characters")


def is_valid_id(value: str) -> bool:
    """True when `value` is an id (event, customer, entity) the event schemas accept."""
    return len(value) <= 128 and _ID.fullmatch(value) is not None

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
