"""Fetching pre-trained weights from a local folder or the Hugging Face Hub.

Everything that takes a "source" (``pretrained_a2a`` in the recipes, the
inference interfaces) goes through SpeechBrain's own ``fetch``, so a local
folder and a Hub repository id are handled by the same code path.

Example
-------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> open(os.path.join(folder, DECODER_FILENAME), "wb").close()
>>> resolve_checkpoint(folder).endswith(DECODER_FILENAME)
True
"""

import os

DECODER_FILENAME = "a2a_decoder.ckpt"


def resolve_checkpoint(source, filename=DECODER_FILENAME, savedir=None):
    """Local path of an A2A checkpoint given a file, a folder or a Hub id.

    Arguments
    ---------
    source : str
        A checkpoint file, a folder holding ``filename``, or a Hugging Face Hub
        repository id (``user/repo``) holding ``filename``.
    filename : str
        File to look for inside a folder or repository.
    savedir : str, optional
        Where fetched files are linked/copied (default: a cache folder).

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        Neither a file, nor a folder with ``filename``, nor a fetchable Hub id.

    Example
    -------
    >>> resolve_checkpoint("/no/such/folder/")
    Traceback (most recent call last):
    ...
    FileNotFoundError: pretrained source '/no/such/folder/': no such file or folder
    """
    source = str(source)
    if os.path.isfile(source):
        return source
    if os.path.isdir(source):
        path = os.path.join(source, filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"pretrained source {source!r}: folder has no {filename}"
            )
        return path
    if source.startswith(("/", ".", "~")) or source.count("/") != 1:
        raise FileNotFoundError(f"pretrained source {source!r}: no such file or folder")
    from speechbrain.utils.fetching import fetch

    try:
        return str(fetch(filename, source=source, savedir=savedir))
    except Exception as err:  # network, auth or missing-file errors alike
        raise FileNotFoundError(
            f"pretrained source {source!r}: could not fetch {filename} from the "
            f"Hugging Face Hub ({err})"
        ) from err
