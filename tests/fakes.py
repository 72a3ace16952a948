"""Fakes (not mocks) shared by unit tests: small real objects with predictable behaviour."""
