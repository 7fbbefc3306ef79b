"""Weights as ``.safetensors`` files: write, read, and load the SpeechBrain way.

Exported models ship their weights as safetensors (tensors and a JSON header,
nothing executable), never as pickles. :class:`SafetensorsPretrainer` is
SpeechBrain's ``Pretrainer`` reading ``<source>/<loadable>.safetensors`` for
each loadable, so the generated ``hyperparams.yaml`` loads a folder or a Hub id
through ``from_hparams`` and ``foreign_class`` alike, with no ``torch.load``.

Example
-------
>>> import os, tempfile, torch
>>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
>>> write_weights(torch.nn.Linear(2, 1).state_dict(), path, {"note": "hi"})
>>> state, metadata = read_weights(path)
>>> sorted(state), metadata["note"]
(['bias', 'weight'], 'hi')
"""

import os

import torch
from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch
from speechbrain.utils.parameter_transfer import Pretrainer

WEIGHTS_EXT = ".safetensors"


def write_weights(state, path, metadata=None):
    """Write a state dict (name → tensor) to ``path`` as safetensors.

    Arguments
    ---------
    state : dict
        Tensor name → tensor; copied to contiguous CPU tensors that share no
        memory (safetensors refuses aliases such as tied weights).
    path : str
        File to write.
    metadata : dict, optional
        String → string pairs kept in the file's header.

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "x.safetensors")
    >>> write_weights({"a": torch.zeros(2)}, path)
    >>> os.path.getsize(path) > 8
    True
    """
    from safetensors.torch import save_file

    tensors = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path}: {name!r} is a {type(value).__name__}, not a tensor "
                "(safetensors files hold tensors only)"
            )
        tensors[name] = value.detach().cpu().contiguous().clone()
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    save_file(tensors, str(path), metadata=meta)
    # safetensors writes through a private (0600) temporary file; give the
    # file the mode any new file gets, or other users cannot load the model.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _shown(path):
    """``path``, plus where it really is when it is a link (fetched files)."""
    path = str(path)
    real = os.path.realpath(path)
    return path if real == os.path.abspath(path) else f"{path} (-> {real})"


def read_weights(path):
    """``(state dict, metadata)`` of a safetensors file, on the CPU.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a complete safetensors file (truncated download, a
        pickle renamed, edited bytes in the header); the message names it.

    Example
    -------
    >>> import os, tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.safetensors")
    >>> _ = open(bad, "wb").write(b"not weights")
    >>> read_weights(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../bad.safetensors: not a valid safetensors file (...)...
    """
    from safetensors import safe_open

    if not os.path.isfile(str(path)):
        raise FileNotFoundError(f"{_shown(path)}: no such weights file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as err:  # SafetensorError, or OSError on a short read
        raise ValueError(
            f"{_shown(path)}: not a valid safetensors file ({err}); the file is "
            "damaged or incomplete: download or export it again"
        ) from err
    return state, metadata


def load_weights_into(module, path):
    """Load a safetensors file into ``module``, every tensor accounted for.

    The signature of a SpeechBrain parameter-transfer hook ``(obj, path)``.

    Raises
    ------
    ValueError
        The file is unreadable, or its tensors do not match the module
        (missing, unexpected or of another shape); the message names the file.

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "lin.safetensors")
    >>> write_weights(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load_weights_into(torch.nn.Linear(2, 3), path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../lin.safetensors does not fit Linear: ...size mismatch...
    """
    state, _ = read_weights(path)
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(
            f"{_shown(path)} does not fit {type(module).__name__}: {err}"
        ) from err
    problems = [f"missing {name}" for name in result.missing_keys]
    problems += [f"unexpected {name}" for name in result.unexpected_keys]
    if problems:
        raise ValueError(
            f"{_shown(path)} does not fit {type(module).__name__}: "
            + "; ".join(problems[:5])
            + ("; ..." if len(problems) > 5 else "")
        )


class SafetensorsPretrainer(Pretrainer):
    """SpeechBrain's ``Pretrainer`` for ``<loadable>.safetensors`` files.

    Same arguments as ``speechbrain.utils.parameter_transfer.Pretrainer``.
    Loadables without an explicit path are fetched (local folder, Hub id or
    URL, by SpeechBrain's ``fetch``) as ``<source>/<name>.safetensors`` and
    collected under the same name; those without a custom hook are loaded by
    :func:`load_weights_into` (strict, no ``torch.load``).

    Example
    -------
    >>> import os, tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> trained = torch.nn.Linear(2, 1)
    >>> write_weights(trained.state_dict(), os.path.join(folder, "lin.safetensors"))
    >>> fresh = torch.nn.Linear(2, 1)
    >>> pretrainer = SafetensorsPretrainer(loadables={"lin": fresh})
    >>> _ = pretrainer.collect_files(default_source=folder)
    >>> pretrainer.load_collected()
    >>> torch.equal(fresh.weight, trained.weight)
    True
    """

    def collect_files(
        self,
        default_source=None,
        local_strategy=LocalStrategy.SYMLINK,
        fetch_config=None,
    ):
        """Fetch every loadable's file; returns name → local path."""
        fetch_config = fetch_config if fetch_config is not None else FetchConfig()
        if self.collect_in is not None:
            self.collect_in.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in self.loadables:
            if not self.is_loadable(name):
                continue
            if name in self.paths:
                source, filename = self.split_path(self.paths[name])
            elif default_source is not None:
                source, filename = default_source, name + WEIGHTS_EXT
            else:
                raise ValueError(
                    f"no path for loadable {name!r} and no default source given"
                )
            path = fetch(
                filename=filename,
                source=source,
                savedir=self.collect_in,
                save_filename=name + WEIGHTS_EXT,
                local_strategy=local_strategy,
                fetch_config=fetch_config,
            )
            paths[name] = path
            self.paths[name] = str(path)
            if name not in self.is_local:
                self.is_local.append(name)
        return paths

    def load_collected(self):
        """Load the collected files (safetensors unless a custom hook says)."""
        for name in self.loadables:
            self.custom_hooks.setdefault(name, load_weights_into)
        super().load_collected()
