"""The words the engine (syncer/) and the translators (translators/) both speak: API resources, owned-field diffs,
flag-value parsing and host-name scrubbing. It imports neither of them, and translators import nothing of the engine:
`lint-imports` (pyproject.toml, run by `make lint`) checks both rules."""
