"""The IVR: flow format, validator, interpreter, say-number, lookups (docs/ivr.md)."""
