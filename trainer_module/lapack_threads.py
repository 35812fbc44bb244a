"""How many threads scipy's LAPACK (its bundled OpenBLAS) may use.

scipy 1.12's OpenBLAS 0.3.21 segfaults in its multi-threaded Cholesky
(potrf) on large matrices: measured on these machines, 16,000 and 17,000
items crash (SIGSEGV, the Trainer at ML-20m's 26,744 items), 12,000 and
14,000 pass; on one thread 17,000 passes (33 s). The EASE inverse therefore
factors anything past SINGLE_THREAD_FROM items on one thread.
"""
import contextlib
import ctypes
import glob
import os
from typing import Iterator, Optional

import scipy

SINGLE_THREAD_FROM = 15_000


def _openblas() -> Optional[ctypes.CDLL]:
    """scipy's own OpenBLAS (already loaded by scipy.linalg: dlopen returns
    the same library, so its thread setting is scipy's), or None for a scipy
    built against another BLAS."""
    libs = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)),
                        "scipy.libs", "libopenblas*.so")
    for path in glob.glob(libs):
        library = ctypes.CDLL(path)
        if hasattr(library, "openblas_set_num_threads"):
            return library
    return None


def openblas_threads() -> Optional[int]:
    """scipy's OpenBLAS thread count now (None without that library)."""
    library = _openblas()
    return library.openblas_get_num_threads() if library else None


@contextlib.contextmanager
def lapack_threads_for(size: int) -> Iterator[None]:
    """One OpenBLAS thread inside the block when a size x size factorisation
    reaches SINGLE_THREAD_FROM; the previous count restored after."""
    library = _openblas() if size >= SINGLE_THREAD_FROM else None
    if library is None:
        yield
        return
    before = library.openblas_get_num_threads()
    library.openblas_set_num_threads(1)
    try:
        yield
    finally:
        library.openblas_set_num_threads(before)
