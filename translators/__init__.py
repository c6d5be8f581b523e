"""One module per kind: pure functions from a virtual object (plus context) to the desired host object, and from
the host object to what flows back up. No I/O, so every rule is unit-testable without a server."""
