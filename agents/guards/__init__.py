"""Guards: static checks that decide what generated code may do to its own verdict.

``integrity`` refuses repository content that could forge or weaken a test run
(pytest hooks in ``conftest.py``, pytest options, ``sitecustomize``, ``.pth`` files,
monkeypatched assertion helpers, tests that check nothing); ``side_effects`` flags code
that opens network connections, spawns shells or reads outside the repo at import time.
"""
