"""L2MAC memory: the path-safe, git-backed file store and the instruction registry;
the stateful code memory (cAST chunks, interface summaries, hybrid retrieval)."""
