"""Kairos: streaming, context-aware decisioning microservice."""
