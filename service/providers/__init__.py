"""Pure translation layer: what location providers send (Radar, AWS Location, Azure Maps) → Kairos v1 events.

No I/O, no clock: each normaliser takes the decoded body and the identity/place mapping and
returns one Outcome per provider event. The HTTP edge (service/api/webhooks.py) verifies the
provider's signature first and sends the events through the same ingest path as POST /v1/events.
"""
