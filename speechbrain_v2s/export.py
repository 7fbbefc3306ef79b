"""Export a training run to a model folder that ``from_hparams`` loads.

A recipe's output folder holds the resolved training YAML (SpeechBrain writes
``hyperparams.yaml`` there, shared model definitions inlined) and the
checkpoints. :func:`export_model` turns it into what the Hugging Face Hub
expects of a SpeechBrain model:

- ``hyperparams.yaml``: the architecture only (no training settings), the
  ``modules`` the interface needs, the ROI normalisation, and a ``Pretrainer``
  listing the weight files;
- ``model.safetensors`` (and ``vocoder.safetensors`` for the mel family): the
  weights of the best checkpoint (lowest validation mel L1) as safetensors,
  which hold tensors only (loading one runs no code, unlike a pickle);
- ``custom_interface.py``: the model code in one file, so that SpeechBrain's
  ``foreign_class`` loads the folder without this package;
- for A2A exports, also ``a2a_model.safetensors``: what V2A recipes'
  ``pretrained_a2a`` loads (the same weights, with the model's config);

The folder is loaded back once before :func:`export_model` returns, exactly as
the ``Pretrainer`` of its ``hyperparams.yaml`` will, so a folder that would not
load is never published.

Example
-------
>>> strip_prefix({"decoder.a": 1, "encoder.b": 2}, "decoder.")
{'a': 1}
"""

import io
import json
import logging
import os
import shutil

import torch
from ruamel.yaml import YAML

from speechbrain_v2s.hub import (
    A2A_FILENAME,
    A2A_RUN_FILENAME,
    VOCODER_FILENAMES,
    resolve_checkpoint,
)
from speechbrain_v2s.hub_card import card_fields, header_source, render_card
from speechbrain_v2s.nnet.model import unwrap_state
from speechbrain_v2s.nnet.weights import (
    WEIGHTS_EXT,
    load_weights_into,
    read_weights,
    write_weights,
)

logger = logging.getLogger(__name__)

KINDS = ("v2a", "a2a", "vocoder")
INTERFACES = {"v2a": "VideoToSpeech", "a2a": "AudioToAudio", "vocoder": None}
#: The torch pickles of this package's weights (a checkpoint's ``model.ckpt``,
#: the A2A and vocoder runs' best-model files): an export removes any from its
#: folder, which then holds safetensors only (loading a pickle runs code).
PICKLED_WEIGHT_FILES = ("model.ckpt", A2A_RUN_FILENAME, "vocoder.ckpt")


def strip_prefix(state, prefix):
    """Entries of ``state`` under ``prefix``, with the prefix removed.

    Example
    -------
    >>> strip_prefix({"decoder.w": 1, "decoder.b": 2, "encoder.w": 3}, "decoder.")
    {'w': 1, 'b': 2}
    """
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _yaml():
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    return yaml


def read_run_hparams(run_folder):
    """The resolved training YAML of a run (round-trip: tags kept).

    Example
    -------
    >>> import os, tempfile
    >>> run = tempfile.mkdtemp()
    >>> with open(os.path.join(run, "hyperparams.yaml"), "w") as f:
    ...     _ = f.write("seed: 3\\nmodel: !new:torch.nn.Linear\\n  in_features: 1\\n")
    >>> hparams = read_run_hparams(run)
    >>> hparams["seed"], hparams["model"].tag.value, dict(hparams["model"])
    (3, '!new:torch.nn.Linear', {'in_features': 1})
    >>> read_run_hparams(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...: no hyperparams.yaml (not a run folder)
    """
    path = os.path.join(run_folder, "hyperparams.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_folder}: no hyperparams.yaml (not a run folder)")
    with open(path, encoding="utf-8") as handle:
        return _yaml().load(handle)


def run_base(run_folder, hparams):
    """The folder a run was started from (its relative paths' base), or
    ``None`` when neither the run folder nor its YAML tells.

    A relative ``output_folder`` names the run folder from there, so the
    run folder's own path minus that tail is the base; else the recipe folder
    of SpeechBrain's header (``<recipe>/hparams/<name>.yaml``), if it exists.

    Example
    -------
    >>> run_base("/repo/recipes/X/results/a/1", {"output_folder": "results/a/1"})
    '/repo/recipes/X'
    >>> run_base("/elsewhere/1", {"output_folder": "results/a/1"}) is None
    True
    """
    run = os.path.abspath(str(run_folder))
    out = hparams.get("output_folder")
    if out and not os.path.isabs(str(out)):
        tail = os.sep + os.path.normpath(str(out))
        if run.endswith(tail):
            return run[: -len(tail)] or os.sep
    recipe_yaml = header_source(run)
    if recipe_yaml and os.path.basename(os.path.dirname(recipe_yaml)) == "hparams":
        recipe = os.path.dirname(os.path.dirname(recipe_yaml))
        if os.path.isdir(recipe):
            return recipe
    return None


def run_path(run_folder, hparams, path):
    """Where a path of a run's YAML is on this machine, whatever the current
    folder: under ``run_folder`` for paths under the run's ``output_folder``
    (the run may have moved), relative ones against :func:`run_base`,
    absolute ones unchanged.

    Example
    -------
    >>> hparams = {"output_folder": "results/a/1"}
    >>> run_path("/repo/recipes/X/results/a/1", hparams, "results/a/1/save")
    '/repo/recipes/X/results/a/1/save'
    >>> run_path("/moved/run", hparams, "results/a/1/save/train.json")
    '/moved/run/save/train.json'
    >>> run_path("/repo/recipes/X/results/a/1", hparams, "results/b/a2a.ckpt")
    '/repo/recipes/X/results/b/a2a.ckpt'
    >>> run_path("/moved/run", hparams, "/data/GRID")
    '/data/GRID'
    """
    if path is None:
        return None
    path = os.path.normpath(str(path))
    run = os.path.abspath(str(run_folder))
    out = hparams.get("output_folder")
    if out:
        out = os.path.normpath(str(out))
        if path == out:
            return run
        if path.startswith(out + os.sep):
            return os.path.join(run, path[len(out) + 1 :])
    if os.path.isabs(path):
        return path
    base = run_base(run, hparams)
    return os.path.join(base, path) if base else os.path.abspath(path)


def _save_folder(run_folder, hparams):
    save = hparams.get("save_folder")
    if not save:
        return os.path.join(os.path.abspath(str(run_folder)), "save")
    return run_path(run_folder, hparams, save)


def best_checkpoint(save_folder, min_key="mel_l1"):
    """Folder of the run's best end-of-epoch checkpoint.

    The lowest ``min_key`` wins; without that key in any checkpoint's meta, the
    newest checkpoint is taken.

    Example
    -------
    >>> import tempfile, torch
    >>> from speechbrain_v2s.training.checkpoints import SafeCheckpointer
    >>> save = tempfile.mkdtemp()
    >>> ckpt = SafeCheckpointer(save, {"model": torch.nn.Linear(1, 1)})
    >>> best = ckpt.save_checkpoint(meta={"mel_l1": 0.5})
    >>> newest = ckpt.save_checkpoint(meta={"mel_l1": 0.9})
    >>> best_checkpoint(save) == best.path, best_checkpoint(save, "wer") == newest.path
    (True, True)
    >>> best_checkpoint(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...: no checkpoint to export
    """
    from speechbrain_v2s.training.checkpoints import SafeCheckpointer

    ckpt = SafeCheckpointer(save_folder).find_checkpoint(min_key=min_key)
    if ckpt is None:
        ckpt = SafeCheckpointer(save_folder).find_checkpoint()
    if ckpt is None:
        raise FileNotFoundError(f"{save_folder}: no checkpoint to export")
    return ckpt.path


def _model_state(ckpt_dir):
    state = torch.load(
        os.path.join(ckpt_dir, "model.ckpt"), map_location="cpu", weights_only=True
    )
    # Brain module "model" is the TrainingModel wrapper; the joint strategy's
    # A2A encoder beside the V2S model is training-only.
    return unwrap_state(state)


def vocoder_state(source):
    """Vocoder weights from a ``vocoder.safetensors`` or ``vocoder.ckpt`` file,
    a folder or Hub id holding one (an export, a vocoder run's output folder),
    or else a vocoder run's best checkpoint.

    Example
    -------
    >>> import os, tempfile
    >>> vocoder_state(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...: no hyperparams.yaml (not a run folder)
    """
    source = str(source)
    names = VOCODER_FILENAMES
    if os.path.isdir(source) and not any(
        os.path.isfile(os.path.join(source, name)) for name in names
    ):
        run = read_run_hparams(source)
        ckpt = best_checkpoint(_save_folder(source, run))
        return strip_prefix(_model_state(ckpt), "decoder.")
    path = resolve_checkpoint(source, names)
    if path.endswith(WEIGHTS_EXT):
        return read_weights(path)[0]
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("vocoder", state)


def _arch_text(run_hparams):
    arch = run_hparams.get("arch")
    if arch is None:
        raise ValueError("the run's YAML has no 'arch' (shared model definition)")
    stream = io.StringIO()
    _yaml().dump(arch, stream)
    return stream.getvalue()


def interface_yaml(arch_text, kind, roi_stats=None, has_vocoder=False):
    """``hyperparams.yaml`` text for an exported model.

    Example
    -------
    >>> text = interface_yaml("a2a_model: 1\\n", "a2a")
    >>> "loadables:" in text and "model: !ref <a2a_model>" in text
    True
    """
    model_key = {"v2a": "v2a_model", "a2a": "a2a_model", "vocoder": "vocoder"}[kind]
    lines = [
        "# Generated by speechbrain_v2s.export: architecture + interface settings.",
        arch_text.rstrip("\n"),
        "",
        "sample_rate: 24000",
    ]
    if roi_stats is not None:
        lines += [
            f"roi_mean: {roi_stats['mean']}",
            f"roi_std: {roi_stats['std']}",
            "crop_size: 88",
            "chunk_frames: 250  # long videos: overlapping chunks of 10 s",
            "chunk_overlap: 25",
            "roi_detector: auto",
        ]
    # Module names are also the weight files' stems (model.safetensors, ...).
    modules = {"vocoder": "vocoder"} if kind == "vocoder" else {"model": model_key}
    if has_vocoder and kind != "vocoder":
        modules["vocoder"] = "vocoder"
    lines.append("modules:")
    lines += [f"    {name}: !ref <{key}>" for name, key in modules.items()]
    lines += [
        "# SpeechBrain's Pretrainer, reading <name>.safetensors (no pickles)",
        "pretrainer: !new:speechbrain_v2s.nnet.weights.SafetensorsPretrainer",
        "    loadables:",
    ]
    lines += [f"        {name}: !ref <{key}>" for name, key in modules.items()]
    return "\n".join(lines) + "\n"


def _remove_pickled_weights(out_dir):
    for name in PICKLED_WEIGHT_FILES:
        path = os.path.join(out_dir, name)
        if os.path.isfile(path):
            os.remove(path)
            logger.info("Removed %s (pickled weights: a model folder holds none)", path)


def _write_interface(out_dir, text, files):
    with open(os.path.join(out_dir, "hyperparams.yaml"), "w", encoding="utf-8") as f:
        f.write(text)
    files.append("hyperparams.yaml")


def load_exported_modules(out_dir):
    """The modules of an exported folder, built from its ``hyperparams.yaml``
    and loaded from its ``<name>.safetensors`` files as ``from_hparams`` does.

    Raises
    ------
    ValueError
        A weight file is damaged or does not fit its module (named).

    Example
    -------
    >>> import os, tempfile
    >>> root = os.path.dirname(os.path.dirname(__file__))
    >>> out = tempfile.mkdtemp()
    >>> _ = export_architecture(os.path.join(root, "hparams", "tiny_wave.yaml"), out)
    >>> sorted(load_exported_modules(out))
    ['model']
    """
    from hyperpyyaml import load_hyperpyyaml

    with open(os.path.join(out_dir, "hyperparams.yaml"), encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    loadables = hparams["pretrainer"].loadables
    for name, module in loadables.items():
        load_weights_into(module, os.path.join(out_dir, name + WEIGHTS_EXT))
    return dict(loadables)


def _write_a2a(out_dir, model):
    """``a2a_model.safetensors``: the A2A model with its config (what
    ``load_pretrained_a2a`` checks), for V2A recipes' ``pretrained_a2a``."""
    metadata = {"config": json.dumps(model.config())}
    write_weights(model.state_dict(), os.path.join(out_dir, A2A_FILENAME), metadata)


def _checkpoint_dir(save_folder, checkpoint):
    if checkpoint is None:
        return best_checkpoint(save_folder)
    if not os.path.isfile(os.path.join(str(checkpoint), "model.ckpt")):
        raise FileNotFoundError(
            f"{checkpoint}: not a checkpoint folder (no model.ckpt)"
        )
    return str(checkpoint)


def _first_file(folders, name):
    for folder in folders:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def run_statistics(hparams, folders):
    """What a V2A model needs from its run besides the weights: the ROI
    normalisation it was trained with and, for a speaker-table model, the
    ``speakers.json`` naming the table's rows.

    The ROI statistics are the run's ``roi_mean``/``roi_std`` when both are
    set, else the ``roi_stats.json`` the run measured (as in training).

    Arguments
    ---------
    hparams : dict
        The run's YAML.
    folders : list of str
        Where the run wrote its files, in order of preference.

    Returns
    -------
    tuple
        ``({"mean": float, "std": float}, speakers.json path or None)``.

    Raises
    ------
    ValueError
        One of them is not found (or unreadable): the model would not work.

    Example
    -------
    >>> run_statistics({"roi_mean": 0.4, "roi_std": 0.2}, [])
    ({'mean': 0.4, 'std': 0.2}, None)
    >>> run_statistics({"roi_mean": None}, ["/no/save"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: no ROI statistics: ... there is no roi_stats.json in /no/save
    """
    where = " or ".join(dict.fromkeys(str(f) for f in folders))
    if hparams.get("roi_mean") is not None and hparams.get("roi_std") is not None:
        stats = {"mean": float(hparams["roi_mean"]), "std": float(hparams["roi_std"])}
    else:
        path = _first_file(folders, "roi_stats.json")
        if path is None:
            raise ValueError(
                "no ROI statistics: roi_mean/roi_std are null in the run's YAML "
                f"and there is no roi_stats.json in {where}"
            )
        try:
            with open(path, encoding="utf-8") as handle:
                found = json.load(handle)
            stats = {"mean": float(found["mean"]), "std": float(found["std"])}
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not ROI statistics ({err!r})") from err
    speakers = None
    arch = hparams.get("arch") or {}
    if arch.get("speaker_mode", hparams.get("speaker_mode")) == "table":
        speakers = _first_file(folders, "speakers.json")
        if speakers is None:
            raise ValueError(
                "the model has a speaker table but there is no speakers.json "
                f"(its rows' speaker ids) in {where}"
            )
    return stats, speakers


def export_model(
    run_folder, out_dir, kind="v2a", vocoder=None, checkpoint=None, card=True
):
    """Write a loadable model folder from a recipe's output folder.

    Arguments
    ---------
    run_folder : str
        The recipe's ``output_folder`` (holds ``hyperparams.yaml`` and ``save/``).
    out_dir : str
        Folder to create (its files are overwritten).
    kind : str
        ``v2a`` (VideoToSpeech), ``a2a`` (AudioToAudio + the A2A checkpoint
        V2A recipes start from) or ``vocoder``.
    vocoder : str, optional
        For mel-family models: a vocoder run folder, an exported vocoder folder,
        a ``vocoder.safetensors``/``vocoder.ckpt`` file or a Hub id holding one,
        to ship beside the model (without one, Griffin-Lim is used).
    checkpoint : str, optional
        A specific checkpoint folder (default: the best one).

    Returns
    -------
    dict
        What was written: ``files``, ``kind``, ``checkpoint``.

    Example
    -------
    >>> export_model("/no/run", "/tmp/x", kind="asr")
    Traceback (most recent call last):
    ...
    ValueError: kind 'asr' is not one of v2a, a2a, vocoder
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    run_folder, out_dir = str(run_folder), str(out_dir)
    hparams = read_run_hparams(run_folder)
    save_folder = _save_folder(run_folder, hparams)
    ckpt_dir = _checkpoint_dir(save_folder, checkpoint)

    # Everything is read and checked before anything is written: a run that
    # cannot give a complete model leaves no half-written folder behind.
    state = _model_state(ckpt_dir)
    if kind == "vocoder":
        state = strip_prefix(state, "decoder.")  # VocoderModel.decoder
    has_vocoder = vocoder is not None and kind != "vocoder"
    vocoder_weights = vocoder_state(vocoder) if has_vocoder else None
    roi_stats, speakers = None, None
    if kind == "v2a":
        # The checkpoint's own save folder first: --checkpoint may name
        # another copy of the run than run_folder's YAML points to.
        folders = [os.path.dirname(os.path.abspath(ckpt_dir)), save_folder]
        roi_stats, speakers = run_statistics(hparams, folders)
    fields = card_fields(
        run_folder,
        hparams,
        kind,
        out_dir,
        state,
        has_vocoder=has_vocoder,
        locate=lambda path: run_path(run_folder, hparams, path),
    )
    card_text = render_card(kind, fields)
    text = interface_yaml(_arch_text(hparams), kind, roi_stats, has_vocoder)

    os.makedirs(out_dir, exist_ok=True)
    _remove_pickled_weights(out_dir)
    files = []
    name = ("vocoder" if kind == "vocoder" else "model") + WEIGHTS_EXT
    write_weights(state, os.path.join(out_dir, name))
    files.append(name)
    if has_vocoder:
        write_weights(vocoder_weights, os.path.join(out_dir, "vocoder" + WEIGHTS_EXT))
        files.append("vocoder" + WEIGHTS_EXT)
    if speakers is not None:
        shutil.copyfile(speakers, os.path.join(out_dir, "speakers.json"))
        files.append("speakers.json")
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(card_text)
    files.append("README.md")
    _write_interface(out_dir, text, files)
    # Load the folder back as from_hparams will: fail here, not after upload.
    modules = load_exported_modules(out_dir)
    if kind == "a2a":
        _write_a2a(out_dir, modules["model"])
        files.append(A2A_FILENAME)
    if kind != "vocoder":
        from speechbrain_v2s.standalone import write_standalone

        write_standalone(os.path.join(out_dir, "custom_interface.py"))
        files.append("custom_interface.py")
    summary = {"files": files, "kind": kind, "checkpoint": str(ckpt_dir)}
    logger.info("Exported %s model from %s to %s", kind, ckpt_dir, out_dir)
    return summary


def export_architecture(
    arch_file, out_dir, kind="v2a", overrides=None, roi_stats=None, state=None
):
    """A model folder straight from a shared architecture YAML (``hparams/*.yaml``).

    The weights are the freshly initialised ones unless ``state`` (a state dict
    of the model) is given: this is how tests and benchmarks make tiny models
    that load through exactly the ``from_hparams`` path of a published model.

    Example
    -------
    >>> import os, tempfile
    >>> root = os.path.dirname(os.path.dirname(__file__))
    >>> arch = os.path.join(root, "hparams", "tiny_wave.yaml")
    >>> out = tempfile.mkdtemp()
    >>> sorted(export_architecture(arch, out)["files"])
    ['custom_interface.py', 'hyperparams.yaml', 'model.safetensors']
    """
    from hyperpyyaml import load_hyperpyyaml, resolve_references

    with open(arch_file, encoding="utf-8") as handle:
        arch_text = resolve_references(handle, overrides or {}).getvalue()
    hparams = load_hyperpyyaml(arch_text)
    model_key = {"v2a": "v2a_model", "a2a": "a2a_model"}[kind]
    os.makedirs(out_dir, exist_ok=True)
    _remove_pickled_weights(out_dir)
    model_state = state if state is not None else hparams[model_key].state_dict()
    write_weights(model_state, os.path.join(out_dir, "model" + WEIGHTS_EXT))
    files = ["model" + WEIGHTS_EXT]
    has_vocoder = "vocoder" in hparams
    if has_vocoder:
        write_weights(
            hparams["vocoder"].state_dict(),
            os.path.join(out_dir, "vocoder" + WEIGHTS_EXT),
        )
        files.append("vocoder" + WEIGHTS_EXT)
    if kind == "v2a" and roi_stats is None:
        roi_stats = {"mean": 0.5, "std": 0.2}
    _write_interface(
        out_dir, interface_yaml(arch_text, kind, roi_stats, has_vocoder), files
    )
    from speechbrain_v2s.standalone import write_standalone

    write_standalone(os.path.join(out_dir, "custom_interface.py"))
    files.append("custom_interface.py")
    return {"files": files, "kind": kind}
