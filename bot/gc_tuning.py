"""The garbage collector of a long-running bot process, settled once start-up is over.

By start-up the process holds objects that live as long as it does (the bench's: ~310,000 —
pydantic schemas, modules, routers, dialogs, catalogs). CPython's collector would walk all of them
in every full collection — 0.26-0.31 s of CPU with the event loop stopped, more as the heap grows
(bench/README.md, issue 13, stop 18). `settle_after_startup` collects once, then freezes what
is left (`gc.freeze`: moved out of the collector's generations for good), so later collections
walk only what updates made; and it raises the youngest generation's threshold, so the
short-lived objects of an update (Bot API models, rendered windows) are more often freed by
reference counting before a collection looks at them. Cycles made later are still collected.
"""

from __future__ import annotations

import gc

# Young objects allocated before a collection of the youngest generation (CPython's default:
# 700). At 10,000 the open loop's 2,600 updates made 19 young collections instead of 508 (each
# 14-34 ms of CPU instead of at most 17) and 1 middle one instead of 47: the collector's CPU
# per update fell from 0.72 to 0.14 ms and its longest pause from 309 to 81 ms
# (bench/README.md, issue 13, stop 18).
GEN0_THRESHOLD = 10_000


def settle_after_startup(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect, freeze the survivors, raise the youngest generation's threshold."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
