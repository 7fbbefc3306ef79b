"""The ``{data_root}`` placeholder of manifest and list paths, filled in one place.

A SpeechBrain JSON manifest may name its files relative to a dataset folder
given at run time: ``"{data_root}/s1/bbaf2n.wav"`` (the form
``DynamicItemDataset.from_json(replacements={"data_root": ...})`` fills), or
``$data_root``, ``{root}``, ``$root``. The ``<dataset>_prepare.py`` scripts
write absolute paths, so their manifests need no filling; hand-written or moved
manifests do. ``v2s-preprocess`` (:mod:`speechbrain_v2s.video.inputs`) and
``v2s-evaluate`` (:mod:`speechbrain_v2s.evaluation.references`) both read
paths through :func:`fill_data_root`.

This module imports nothing of the package: ``video`` sits below ``prepare``
and ``data``, so the rule lives under both.

Example
-------
>>> fill_data_root("{data_root}/s1/a.wav", "/data/GRID")
'/data/GRID/s1/a.wav'
"""

#: Spellings of the dataset folder in manifest and list paths.
DATA_ROOT_PLACEHOLDERS = ("{data_root}", "$data_root", "{root}", "$root")


def fill_data_root(path, data_root):
    """``path`` as a string with every :data:`DATA_ROOT_PLACEHOLDERS` filled.

    Arguments
    ---------
    path : str or os.PathLike
        A path read from a manifest or a list file.
    data_root : str or os.PathLike, optional
        The dataset folder; ``None`` leaves placeholders as they are.

    Returns
    -------
    str

    Example
    -------
    >>> fill_data_root("$root/a.wav", "/d"), fill_data_root("{data_root}/a", None)
    ('/d/a.wav', '{data_root}/a')
    """
    path = str(path)
    if data_root is not None:
        for key in DATA_ROOT_PLACEHOLDERS:
            path = path.replace(key, str(data_root))
    return path
