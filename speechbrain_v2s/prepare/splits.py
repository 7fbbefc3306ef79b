"""Deterministic splits: entries ordered by a seeded hash of their ids (the
same on every machine, whatever order the files were found in), split by
utterance, by speaker, or from fixed speaker lists.
"""

import hashlib

SPLITS = ("train", "valid", "test")


def stable_order(keys, seed=0):
    """``keys`` sorted by a seeded hash: a shuffle that is the same on every machine.

    Unlike ``random.shuffle``, a key's place does not depend on the other
    keys, so adding files to a corpus moves few others between splits.

    Example
    -------
    >>> order = stable_order(["a", "b", "c", "d"], seed=1)
    >>> order == stable_order(["d", "c", "b", "a"], seed=1)
    True
    """

    def _hash(key):
        digest = hashlib.md5(f"{seed}:{key}".encode()).hexdigest()
        return int(digest[:16], 16), key

    return sorted(keys, key=_hash)


def split_counts(n, ratios):
    """How many of ``n`` items each split gets.

    The first split takes the remainder; each other split with a non-zero
    ratio gets at least one item as long as the first keeps one.

    Example
    -------
    >>> split_counts(1000, (0.9, 0.05, 0.05))
    [900, 50, 50]
    >>> split_counts(6, (0.9, 0.05, 0.05)), split_counts(2, (0.9, 0.05, 0.05))
    ([4, 1, 1], [1, 1, 0])
    """
    total = float(sum(ratios))
    if n <= 0 or total <= 0:
        return [max(n, 0)] + [0] * (len(ratios) - 1)
    counts = [0] + [int(n * r / total + 0.5) for r in ratios[1:]]
    for i, ratio in enumerate(ratios[1:], start=1):
        if ratio > 0 and counts[i] == 0 and sum(counts) < n - 1:
            counts[i] = 1
    while sum(counts[1:]) > n - 1 and any(counts[1:]):
        largest = max(range(1, len(counts)), key=lambda i: counts[i])
        counts[largest] -= 1
    counts[0] = n - sum(counts[1:])
    return counts


def split_items(entries, ratios, seed=0, names=SPLITS, key="id"):
    """Split entries by ``key`` in seeded hash order.

    Arguments
    ---------
    entries : list of dict
        Entries with a unique ``key``.
    ratios : sequence of float
        One per split name; the first split takes the remainder.
    seed : int
        Changes the order.
    names : sequence of str
        Split names.
    key : str
        Field to order by.

    Returns
    -------
    dict
        Split name → list of entries (sorted by ``key``).

    Example
    -------
    >>> entries = [{"id": str(i)} for i in range(10)]
    >>> parts = split_items(entries, (0.8, 0.2), names=("train", "valid"))
    >>> [len(parts[n]) for n in ("train", "valid")]
    [8, 2]
    """
    if len(ratios) != len(names):
        raise ValueError(f"{len(ratios)} ratios for {len(names)} splits {names}")
    by_key = {entry[key]: entry for entry in entries}
    ordered = stable_order(by_key, seed)
    counts = split_counts(len(ordered), list(ratios))
    # Held-out splits first in hash order; the first split gets the rest.
    parts, start = {}, 0
    for name, count in zip(names[1:], counts[1:]):
        parts[name] = ordered[start : start + count]
        start += count
    parts[names[0]] = ordered[start:]
    return {name: [by_key[k] for k in sorted(parts[name])] for name in names}


def _group(entries, key):
    groups = {}
    for entry in entries:
        groups.setdefault(entry[key], []).append(entry)
    return groups


def split_seen(entries, ratios, seed=0, names=SPLITS, group_key="spk_id"):
    """Seen-speaker split: every speaker's utterances divided by ``ratios``.

    Example
    -------
    >>> entries = [{"id": f"{s}_{i}", "spk_id": s} for s in "ab" for i in range(20)]
    >>> parts = split_seen(entries, (0.8, 0.1, 0.1))
    >>> [len(parts[n]) for n in SPLITS]
    [32, 4, 4]
    >>> sorted({e["spk_id"] for e in parts["test"]})
    ['a', 'b']
    """
    parts = {name: [] for name in names}
    for _, group in sorted(_group(entries, group_key).items()):
        for name, chunk in split_items(group, ratios, seed, names).items():
            parts[name].extend(chunk)
    return parts


def split_speakers(entries, ratios, seed=0, names=SPLITS, group_key="spk_id"):
    """Unseen-speaker split: speakers divided by ``ratios``, none in two splits.

    Example
    -------
    >>> entries = [{"id": f"{s}_{i}", "spk_id": s} for s in "abcdef" for i in range(3)]
    >>> parts = split_speakers(entries, (0.6, 0.2, 0.2))
    >>> [sorted({e["spk_id"] for e in parts[n]}) for n in SPLITS]
    [['b', 'c', 'd', 'e'], ['a'], ['f']]
    """
    groups = _group(entries, group_key)
    speakers = [{"id": speaker} for speaker in groups]
    assigned = split_items(speakers, ratios, seed, names)
    return {
        name: [e for s in assigned[name] for e in groups[s["id"]]] for name in names
    }


def split_by_lists(
    entries,
    speaker_lists,
    rest=None,
    fallback_ratios=None,
    seed=0,
    group_key="spk_id",
    restrict=True,
):
    """Speaker-disjoint split from fixed speaker lists, tolerant of missing speakers.

    Arguments
    ---------
    entries : list of dict
        Entries with ``group_key``.
    speaker_lists : dict
        Split name → speakers (order of the dict = order of the splits).
    rest : str, optional
        Split that also gets the speakers present but in no list.
    fallback_ratios : sequence of float, optional
        Proportions for the fallback split (:func:`split_speakers` over the
        speakers present). Default: proportional to the list sizes.
    seed : int
        For the fallback split.
    group_key : str
        Speaker field.
    restrict : bool
        When listed speakers are missing from the data: ``True`` keeps the
        lists (restricted to the speakers present) as long as every split
        keeps a speaker, and falls back otherwise; ``False`` always falls back.

    Returns
    -------
    tuple
        ``(parts, missing, fell_back)``: split name → entries, the listed
        speakers absent from the data, and whether the fallback was used.

    Example
    -------
    >>> entries = [{"id": f"{s}_0", "spk_id": s} for s in ("s1", "s2", "s3")]
    >>> lists = {"train": ["s3"], "valid": ["s2"], "test": ["s1"]}
    >>> parts, missing, fell_back = split_by_lists(entries, lists)
    >>> [[e["id"] for e in parts[n]] for n in lists], missing, fell_back
    ([['s3_0'], ['s2_0'], ['s1_0']], [], False)
    >>> lists["test"] = ["s9"]
    >>> parts, missing, fell_back = split_by_lists(entries, lists)
    >>> missing, fell_back, sum(len(p) for p in parts.values())
    (['s9'], True, 3)
    >>> lists["valid"] = ["s2", "s9"]; lists["test"] = ["s1"]
    >>> split_by_lists(entries, lists)[1:]
    (['s9'], False)
    >>> split_by_lists(entries, lists, restrict=False)[1:]
    (['s9'], True)
    """
    names = list(speaker_lists)
    present = {entry[group_key] for entry in entries}
    listed = {spk for spks in speaker_lists.values() for spk in spks}
    missing = sorted(listed - present, key=_natural_key)
    chosen = {name: set(speaker_lists[name]) & present for name in names}
    if rest is not None:
        chosen[rest] |= present - listed
    if all(chosen.values()) and (restrict or not missing):
        parts = {
            name: [e for e in entries if e[group_key] in chosen[name]] for name in names
        }
        return parts, missing, False
    if fallback_ratios is None:
        fallback_ratios = [max(len(speaker_lists[n]), 1) for n in names]
    parts = split_speakers(entries, fallback_ratios, seed, names, group_key)
    return parts, missing, True


def _natural_key(text):
    digits = "".join(ch for ch in text if ch.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else -1, text)


def natural_sorted(items):
    """Sort names like ``s2`` before ``s10``.

    Example
    -------
    >>> natural_sorted(["s10", "s2", "s1"])
    ['s1', 's2', 's10']
    """
    return sorted(items, key=_natural_key)
