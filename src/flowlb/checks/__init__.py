"""Plumbing the conformance checks share: clients per LB role, raw requests, bounded traffic."""
