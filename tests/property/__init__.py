"""Kairos tests."""
