"""Core layer: triggered messages — detectors (service.core.triggers.detectors), the outbox that sends,
holds or drops each message under her contact budget (outbox), rendering (render) and shown
incentives counted from decision records (shown). Pure: no I/O, no clock, no logging."""
