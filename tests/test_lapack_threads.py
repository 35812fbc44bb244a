"""The EASE inverse factors large matrices on one OpenBLAS thread (scipy's
multi-threaded potrf segfaults from about 16,000 items) and leaves the
thread count as it found it."""
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse

from trainer_module import history, lapack_threads

pytestmark = pytest.mark.skipif(lapack_threads.openblas_threads() is None,
                                reason="scipy is not built with OpenBLAS")


@pytest.fixture
def two_threads():
    library = lapack_threads._openblas()
    before = library.openblas_get_num_threads()
    library.openblas_set_num_threads(2)
    yield
    library.openblas_set_num_threads(before)


def _threads_seen_by_potrf(monkeypatch) -> list:
    seen = []
    potrf = scipy.linalg.lapack.dpotrf

    def recording_potrf(*args, **kwargs):
        seen.append(lapack_threads.openblas_threads())
        return potrf(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg.lapack, "dpotrf", recording_potrf)
    return seen


def _rated() -> scipy.sparse.csr_matrix:
    return scipy.sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]],
                                            dtype=np.float64))


def test_large_factorisation_runs_on_one_thread_then_restores(
        two_threads, monkeypatch):
    monkeypatch.setattr(lapack_threads, "SINGLE_THREAD_FROM", 3)
    seen = _threads_seen_by_potrf(monkeypatch)
    inverse = history.ease_inverse(_rated(), 1.0)
    assert seen == [1]
    assert lapack_threads.openblas_threads() == 2
    dense = _rated().toarray()
    gram = dense.T @ dense + np.eye(3)
    np.testing.assert_allclose(inverse, np.linalg.inv(gram),
                               atol=1e-12)


def test_small_factorisation_keeps_every_thread(two_threads, monkeypatch):
    monkeypatch.setattr(lapack_threads, "SINGLE_THREAD_FROM", 4)
    seen = _threads_seen_by_potrf(monkeypatch)
    history.ease_inverse(_rated(), 1.0)
    assert seen == [2]


def test_thread_count_restored_when_the_factorisation_fails(two_threads):
    with pytest.raises(RuntimeError):
        with lapack_threads.lapack_threads_for(
                lapack_threads.SINGLE_THREAD_FROM):
            assert lapack_threads.openblas_threads() == 1
            raise RuntimeError("LAPACK failed")
    assert lapack_threads.openblas_threads() == 2
