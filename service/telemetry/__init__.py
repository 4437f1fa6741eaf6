"""Observability: the Prometheus metrics bundle and logging set-up."""
