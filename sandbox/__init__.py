"""Where generated code runs: one persistent Docker container per session (no network,
limits, non-root), or the explicit ``local`` runner; pytest results parsed from JUnit XML."""
