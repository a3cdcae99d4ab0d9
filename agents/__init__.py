"""The roles that think: distiller (paper → blueprint), planner (blueprint →
instructions), coder (instruction → edits), fixer (failures → patches).

Each role is a small function over typed inputs and an ``LLM``; ``agents.offline``
implements the same roles deterministically, without an LLM.
"""
