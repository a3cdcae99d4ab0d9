"""The offline engine: the distiller, planner and coder roles without an LLM, built on
the kernel catalogue (``catalogue``) and guarded by the static anti-cheat check
(``anticheat``)."""
