"""``parallel_map``: a function over many items in spawned worker processes,
results in input order, with a tqdm progress bar.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from tqdm.auto import tqdm

# Parallel probing pays a process start-up: only worth it for many files.
MIN_PARALLEL_ITEMS = 256
MAX_WORKERS = 8


def _init_worker():
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass


def default_workers():
    """Worker processes used when none is given: the usable cores, at most 8.

    Example
    -------
    >>> 1 <= default_workers() <= MAX_WORKERS
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def parallel_map(
    function,
    items,
    num_workers=None,
    desc=None,
    progress=True,
    min_parallel_items=MIN_PARALLEL_ITEMS,
):
    """``[function(item) for item in items]`` in worker processes, with progress.

    Results come back in input order. Small inputs (fewer than
    ``min_parallel_items``) or ``num_workers <= 1`` run in this process.
    Workers are started with ``spawn`` (forked children of a process already
    running OpenCV/torch threads can deadlock), so ``function`` must be a
    module-level function.

    Arguments
    ---------
    function : callable
        Picklable function of one argument.
    items : sequence
        Inputs.
    num_workers : int, optional
        Processes (default :func:`default_workers`).
    desc : str, optional
        Progress bar label.
    progress : bool
        Show the tqdm bar.
    min_parallel_items : int
        Below this many items, no worker processes are started.

    Returns
    -------
    list

    Example
    -------
    >>> parallel_map(abs, [-1, 2, -3], progress=False)
    [1, 2, 3]
    """
    items = list(items)
    workers = default_workers() if num_workers is None else int(num_workers)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        if workers <= 1 or len(items) < max(2, min_parallel_items):
            results = []
            for item in items:
                results.append(function(item))
                bar.update(1)
            return results
        workers = min(workers, len(items))
        chunksize = max(1, min(64, len(items) // (workers * 8)))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker
        ) as pool:
            results = []
            for result in pool.map(function, items, chunksize=chunksize):
                results.append(result)
                bar.update(1)
            return results
    finally:
        bar.close()
