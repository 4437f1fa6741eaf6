"""Edges to the outside world: clock, broker process, Kafka admin and clients."""
