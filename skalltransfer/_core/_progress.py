"""A progress bar for long loops, shown only where it helps."""

import sys
from contextlib import contextmanager


@contextmanager
def progress_bar(enabled, total, desc, unit):
    """A tqdm bar on stderr, or None when disabled or tqdm is not installed
    (``pip install "skalltransfer[progress]"``)."""
    if not enabled:
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
    try:
        yield bar
    finally:
        bar.close()
