import threading

from threadpoolctl import threadpool_info

from rag.threads import one_blas_thread


def _blas_threads():
    # A BLAS built on OpenMP (faiss ships one) keeps its thread count per calling
    # thread, so only the process-wide ones (numpy's) are compared across threads.
    return sorted(i["num_threads"] for i in threadpool_info()
                  if i["user_api"] == "blas" and i.get("threading_layer") != "openmp")


def test_blas_runs_on_one_thread_inside_and_as_before_after():
    import numpy  # noqa: F401  (loads numpy's BLAS so that there is one to limit)

    before = _blas_threads()
    assert before, "numpy's BLAS should be visible to threadpoolctl"
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
        with one_blas_thread():  # nested
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before


def test_questions_in_other_threads_leave_blas_as_it_was():
    # OpenBLAS may or may not honour a limit set from a worker thread (only speed
    # is at stake), but the block must run and leave the setting as it found it.
    before = _blas_threads()
    ran = []

    def question():
        with one_blas_thread():
            ran.append(True)

    threads = [threading.Thread(target=question) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert ran == [True] * 4
    assert _blas_threads() == before
