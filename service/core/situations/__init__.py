"""Core layer: situations derived from a customer's state, the request and reference data (pure)."""
