"""Loaders (pure): real public files (stores, catalog, clickstream, weather reports, routes) → Kairos v1 events."""
