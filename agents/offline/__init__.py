"""The offline engine: the distiller and coder roles without an LLM, built on the kernel
catalogue (``agents/catalogue.py``, shared with the LLM distiller) and guarded by the
static anti-cheat check (``agents/guards/anticheat.py``)."""
