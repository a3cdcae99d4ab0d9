"""Guards: the static checks that decide what generated code may do, in one place.

``acceptance`` checks the files an instruction wrote (syntax, placeholders, imports that
resolve); ``test_protection`` decides which changes of a test-suite a patch or a coder
write may make; ``integrity`` refuses repository content that could forge or weaken a
test run (pytest hooks in ``conftest.py``, pytest options, ``sitecustomize``, ``.pth``
files, monkeypatched assertion helpers, tests that check nothing); ``side_effects``
flags code that opens network connections, spawns shells or reads outside the repo at
import time; ``anticheat`` rejects kernels that call the reference, fall back to
framework ops or patch timers (its source is also copied into generated repos);
``exercise`` decides whether a test imports or uses an instruction's files (only such a
test judges the instruction).
"""
