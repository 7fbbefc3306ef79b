"""Fetching pre-trained weights from a local folder or the Hugging Face Hub.

Everything that takes a "source" (``pretrained_a2a`` in the recipes, the
inference interfaces) goes through SpeechBrain's own ``fetch``, so a local
folder and a Hub repository id are handled by the same code path.

An A2A source holds ``a2a_model.safetensors`` (what ``v2s-export --kind a2a``
writes) or ``a2a_model.ckpt`` (what A2A training runs write); a vocoder source
``vocoder.safetensors`` or ``vocoder.ckpt``. The safetensors file is preferred.

Example
-------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> open(os.path.join(folder, A2A_RUN_FILENAME), "wb").close()
>>> os.path.basename(resolve_checkpoint(folder))
'a2a_model.ckpt'
>>> open(os.path.join(folder, A2A_FILENAME), "wb").close()
>>> os.path.basename(resolve_checkpoint(folder))
'a2a_model.safetensors'
"""

import os
import socket
from contextlib import contextmanager
from urllib.parse import urlsplit

A2A_FILENAME = "a2a_model.safetensors"
A2A_RUN_FILENAME = "a2a_model.ckpt"  # torch file of training runs
A2A_FILENAMES = (A2A_FILENAME, A2A_RUN_FILENAME)
VOCODER_FILENAMES = ("vocoder.safetensors", "vocoder.ckpt")


def is_hub_id(source):
    """Whether ``source`` names a Hub repository (``user/repo``), not a local path.

    A path that exists, starts with ``/``, ``.`` or ``~``, or has other than
    one ``/`` is local: a missing one is an error, never a Hub fetch.

    Example
    -------
    >>> is_hub_id("user/a2a-wave"), is_hub_id("../A2A/results/a2a_model.ckpt")
    (True, False)
    >>> is_hub_id("results/a2a_wave/1234/a2a_model.ckpt")
    False
    """
    source = str(source)
    if os.path.exists(source) or source.startswith(("/", ".", "~")):
        return False
    return source.count("/") == 1


def resolve_checkpoint(source, filename=A2A_FILENAMES, savedir=None):
    """Local path of a checkpoint given a file, a folder or a Hub id.

    Arguments
    ---------
    source : str
        A checkpoint file, a folder holding ``filename``, or a Hugging Face Hub
        repository id (``user/repo``) holding ``filename``.
    filename : str or tuple of str
        File(s) to look for inside a folder or repository, in order of
        preference (default: the A2A model, safetensors first).
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
    names = (filename,) if isinstance(filename, str) else tuple(filename)
    wanted = " or ".join(names)
    if os.path.isfile(source):
        return source
    if os.path.isdir(source):
        for name in names:
            path = os.path.join(source, name)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"pretrained source {source!r}: folder has no {wanted}")
    if not is_hub_id(source):
        raise FileNotFoundError(f"pretrained source {source!r}: no such file or folder")
    from speechbrain.utils.fetching import fetch

    errors = []
    for name in names:
        try:
            return str(fetch(name, source=source, savedir=savedir))
        except Exception as err:  # network, auth or missing-file errors alike
            errors.append(f"{name}: {err}")
    raise FileNotFoundError(
        f"pretrained source {source!r}: could not fetch {wanted} from the "
        f"Hugging Face Hub ({'; '.join(errors)})"
    )


def hub_reachable(timeout=3.0):
    """Whether a connection to the Hugging Face Hub (``HF_ENDPOINT``) opens
    within ``timeout`` seconds: one quick try, where the Hub's own client
    retries each file five times with back-off (23 s and a warning per try).

    Example
    -------
    >>> isinstance(hub_reachable(timeout=0.5), bool)
    True
    """
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
        return True
    except OSError:  # no DNS, no route, refused, timed out
        return False


def _hub_cached(source, savedir, filename="hyperparams.yaml"):
    if savedir and os.path.isfile(os.path.join(savedir, filename)):
        return True
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(source, filename), str)


def check_model_source(source, savedir=None):
    """Refuse, in one line, a model source that cannot load, before loading.

    A local source must be a folder holding ``hyperparams.yaml`` (a missing
    one is not looked up on the Hub). A Hub id is tried once for reachability:
    unreachable with the model in the cache (``savedir`` or the Hub's), it is
    loaded offline (see :func:`offline_hub`); unreachable and not cached, it is
    refused. ``HF_HUB_OFFLINE=1`` skips the check.

    Arguments
    ---------
    source : str
        A model folder or a Hugging Face Hub id (``user/repo``).
    savedir : str, optional
        Where Hub models are cached for the load.

    Returns
    -------
    bool
        Whether to load offline.

    Raises
    ------
    FileNotFoundError
        With the one line to show.

    Example
    -------
    >>> check_model_source("/no/such/model")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model folder '/no/such/model' does not exist
    """
    source = str(source)
    if not is_hub_id(source):
        if not os.path.exists(source):
            raise FileNotFoundError(f"model folder {source!r} does not exist")
        if not os.path.isdir(source):
            raise FileNotFoundError(f"model {source!r} is a file, not a model folder")
        if not os.path.isfile(os.path.join(source, "hyperparams.yaml")):
            raise FileNotFoundError(
                f"model folder {source!r} has no hyperparams.yaml "
                "(make one with v2s-export)"
            )
        return False
    from huggingface_hub import constants

    if constants.is_offline_mode() or hub_reachable():
        return False
    if _hub_cached(source, savedir):
        return True
    raise FileNotFoundError(
        f"model {source!r}: the Hugging Face Hub cannot be reached and the model "
        "is not in the local cache (connect, or pass a model folder)"
    )


@contextmanager
def offline_hub():
    """The Hub client in offline mode (cache only, no requests) inside the ``with``.

    ``HF_HUB_OFFLINE`` is read when ``huggingface_hub`` is imported, so the
    setting it made is changed, and put back after.

    Example
    -------
    >>> from huggingface_hub import constants
    >>> with offline_hub():
    ...     constants.is_offline_mode()
    True
    """
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def is_space(folder):
    """Whether ``folder`` is a Hugging Face Space (an ``app.py`` and a README
    whose YAML header names an ``sdk``), as ``v2s-space`` writes them.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> is_space(d)
    False
    >>> _ = open(os.path.join(d, "app.py"), "w").write("")
    >>> _ = open(os.path.join(d, "README.md"), "w").write("---\\nsdk: gradio\\n---\\n")
    >>> is_space(d)
    True
    """
    readme = os.path.join(folder, "README.md")
    if not (os.path.isfile(os.path.join(folder, "app.py")) and os.path.isfile(readme)):
        return False
    with open(readme, encoding="utf-8") as handle:
        header = handle.read().split("---")
    return len(header) > 2 and "\nsdk:" in "\n" + header[1]


# Python's caches never go to the Hub.
_IGNORED = ("__pycache__", ".pyc")


def upload_folder(folder, repo_id, token=None, private=False, dry_run=False):
    """Publish an exported model folder, or a Space folder (:func:`is_space`),
    to the Hugging Face Hub.

    The token comes from ``token``, else the usual ``HF_TOKEN`` variable or
    ``huggingface-cli login``. With ``dry_run`` nothing is sent: the files that
    would be uploaded are returned as ``(relative path, bytes)``.

    Example
    -------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "hyperparams.yaml"), "w").write("x: 1\\n")
    >>> upload_folder(d, "user/model", dry_run=True)
    [('hyperparams.yaml', 5)]
    """
    space = is_space(folder)
    if not space and not os.path.isfile(os.path.join(folder, "hyperparams.yaml")):
        raise FileNotFoundError(f"{folder}: no hyperparams.yaml (export it first)")
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED)
        for name in sorted(names):
            if name.endswith(_IGNORED):
                continue
            path = os.path.join(root, name)
            files.append((os.path.relpath(path, folder), os.path.getsize(path)))
    if dry_run:
        return files
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    kind = "space" if space else "model"
    extra = {"space_sdk": "gradio"} if space else {}
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type=kind, **extra)
    api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        repo_type=kind,
        ignore_patterns=["__pycache__/*", "**/__pycache__/*", "*.pyc"],
    )
    return files
