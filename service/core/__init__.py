"""Pure core layer: state, reference data, policy and decisions; no I/O, no clock, no logging."""
