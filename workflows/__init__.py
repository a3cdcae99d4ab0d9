"""The LangGraph graph, its small JSON-native state, the control unit loop, the
verify/fix loop, checkpointing and resume."""
