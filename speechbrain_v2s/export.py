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
- for A2A exports, also ``a2a_decoder.safetensors``: what V2A recipes'
  ``pretrained_a2a`` loads (the same weights, with the model's config);

The folder is loaded back once before :func:`export_model` returns, exactly as
the ``Pretrainer`` of its ``hyperparams.yaml`` will, so a folder that would not
load is never published.

Example
-------
>>> strip_prefix({"model.a": 1, "a2a_encoder.b": 2}, "model.")
{'a': 1}
"""

import io
import json
import logging
import os

import torch
from ruamel.yaml import YAML

from speechbrain_v2s.hub import DECODER_FILENAME, VOCODER_FILENAMES, resolve_checkpoint
from speechbrain_v2s.hub_card import last_logged_metrics, render_card
from speechbrain_v2s.nnet.weights import (
    WEIGHTS_EXT,
    load_weights_into,
    read_weights,
    write_weights,
)

logger = logging.getLogger(__name__)

KINDS = ("v2a", "a2a", "vocoder")
INTERFACES = {"v2a": "VideoToSpeech", "a2a": "AudioToAudio", "vocoder": None}
#: Pickled weight files of earlier exports, removed when a folder is re-exported.
LEGACY_FILES = ("model.ckpt", "vocoder.ckpt", "a2a_decoder.ckpt")


def strip_prefix(state, prefix):
    """Entries of ``state`` under ``prefix``, with the prefix removed.

    Example
    -------
    >>> state = {"model.encoder.w": 1, "model.decoder.b": 2, "a2a_encoder.w": 3}
    >>> strip_prefix(state, "model.")
    {'encoder.w': 1, 'decoder.b': 2}
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
    # Brain module "model" is the TrainingModel wrapper: its V2S model sits
    # under "model."; the joint strategy's A2A encoder is training-only.
    return strip_prefix(state, "model.")


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
        ckpt = best_checkpoint(run.get("save_folder", os.path.join(source, "save")))
        return strip_prefix(_model_state(ckpt), "decoder.")
    path = resolve_checkpoint(source, names)
    if path.endswith(WEIGHTS_EXT):
        return read_weights(path)[0]
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("vocoder", state)


def _count(manifest):
    if not manifest or not os.path.isfile(manifest):
        return "?"
    with open(manifest, encoding="utf-8") as handle:
        return len(json.load(handle))


def _num_params(state):
    return sum(v.numel() for v in state.values() if v.is_floating_point())


def recipe_source(run_folder):
    """The recipe YAML a run was started from, as SpeechBrain's header of the
    run's ``hyperparams.yaml`` names it (from ``recipes/`` on when the path
    has it), or ``None`` when the run folder does not say.

    Example
    -------
    >>> import os, tempfile
    >>> run = tempfile.mkdtemp()
    >>> recipe_source(run) is None
    True
    >>> with open(os.path.join(run, "hyperparams.yaml"), "w") as f:
    ...     _ = f.write("# Generated 2026-12-01 from:\\n"
    ...                 "# /home/me/v2s/recipes/GRID/V2A/hparams/wave.yaml\\n"
    ...                 "# yamllint disable\\nseed: 1\\n")
    >>> recipe_source(run)
    'recipes/GRID/V2A/hparams/wave.yaml'
    """
    path = os.path.join(str(run_folder), "hyperparams.yaml")
    try:
        with open(path, encoding="utf-8") as handle:
            head = [handle.readline() for _ in range(2)]
    except OSError:
        return None
    if not head[0].startswith("# Generated") or not head[1].startswith("# "):
        return None
    source = head[1][2:].strip()
    if not source.endswith((".yaml", ".yml")):
        return None
    marker = "/recipes/"
    if marker in source:
        return "recipes/" + source.split(marker, 1)[1]
    return os.path.basename(source)


def card_fields(run_folder, hparams, kind, out_dir, state):
    """What the model card says, taken from the run.

    Example
    -------
    >>> import os, tempfile, torch
    >>> run = os.path.join(tempfile.mkdtemp(), "V2A")
    >>> os.makedirs(run)
    >>> with open(os.path.join(run, "train_log.txt"), "w") as f:
    ...     _ = f.write("epoch loaded: 9 - test loss: 1.0, test stoi: 0.61\\n")
    >>> hparams = {"arch": {"vocoder": None}, "data_folder": "/data/LRS3/",
    ...            "finetune_strategy": "init", "pretrained_a2a": "user/a2a"}
    >>> fields = card_fields(run, hparams, "v2a", "/out/my-v2a",
    ...                      {"w": torch.zeros(3, 2), "steps": torch.tensor(1)})
    >>> fields["name"], fields["dataset"], fields["family"], fields["arch"]
    ('my-v2a', 'LRS3', 'mel', 'V2A')
    >>> fields["metrics"], fields["params"], fields["train_count"]
    ({'loss': 1.0, 'stoi': 0.61}, '6', '?')
    >>> fields["init_text"]
    'initialised from the A2A pre-trained decoder `user/a2a`'
    >>> import pathlib  # a pathlib.Path works too
    >>> card_fields(pathlib.Path(run), hparams, "v2a", "/out/x", {})["arch"]
    'V2A'
    """
    arch = hparams.get("arch", {})
    family = "mel" if "vocoder" in arch else "wave"
    data = hparams.get("data_folder") or hparams.get("data_folders") or "?"
    if isinstance(data, (list, tuple)):
        data = ", ".join(os.path.basename(str(d).rstrip("/")) for d in data)
    else:
        data = os.path.basename(str(data).rstrip("/"))
    stage = "test" if kind == "v2a" else "valid"
    source = recipe_source(run_folder)
    metrics = last_logged_metrics(os.path.join(run_folder, "train_log.txt"), stage)
    pretrained = hparams.get("pretrained_a2a")
    strategy = hparams.get("finetune_strategy", "scratch")
    init = (
        f"initialised from the A2A pre-trained decoder `{pretrained}`"
        if pretrained and strategy != "scratch"
        else "trained from scratch (no A2A initialisation)"
    )
    return {
        "name": os.path.basename(os.path.abspath(out_dir)),
        "repo": "<user>/" + os.path.basename(os.path.abspath(out_dir)),
        "dataset": data,
        "family": family,
        "family_long": (
            "mel spectrogram + vocoder" if family == "mel" else "waveform GAN"
        ),
        "strategy": strategy,
        "init_text": init,
        "metrics": metrics,
        "train_count": _count(hparams.get("train_json")),
        "test_count": _count(hparams.get("test_json")),
        "params": f"{_num_params(state):,}",
        # the recipe YAML's name (tiny_mel, wave, ...) is the architecture's
        "arch": (
            os.path.splitext(os.path.basename(source))[0]
            if source
            else os.path.basename(str(run_folder).rstrip("/"))
        ),
        "recipe": source or os.path.relpath(run_folder),
        "detector": hparams.get("roi_detector", "auto"),
    }


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


def _remove_legacy_files(out_dir):
    for name in LEGACY_FILES:
        path = os.path.join(out_dir, name)
        if os.path.isfile(path):
            os.remove(path)
            logger.info("Removed %s (pickled weights of an earlier export)", path)


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


def _write_decoder(out_dir, model):
    """``a2a_decoder.safetensors``: the A2A model with its config (what
    ``load_pretrained_a2a`` checks), for V2A recipes' ``pretrained_a2a``."""
    metadata = {"config": json.dumps(model.config())}
    write_weights(model.state_dict(), os.path.join(out_dir, DECODER_FILENAME), metadata)


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
        ``v2a`` (VideoToSpeech), ``a2a`` (AudioToAudio + the decoder checkpoint
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
    save_folder = hparams.get("save_folder", os.path.join(run_folder, "save"))
    ckpt_dir = checkpoint or best_checkpoint(save_folder)
    os.makedirs(out_dir, exist_ok=True)
    _remove_legacy_files(out_dir)
    files = []

    state = _model_state(ckpt_dir)
    if kind == "vocoder":
        state = strip_prefix(state, "decoder.")  # VocoderModel.decoder
        name = "vocoder" + WEIGHTS_EXT
    else:
        name = "model" + WEIGHTS_EXT
    write_weights(state, os.path.join(out_dir, name))
    files.append(name)

    has_vocoder = vocoder is not None and kind != "vocoder"
    if has_vocoder:
        write_weights(
            vocoder_state(vocoder), os.path.join(out_dir, "vocoder" + WEIGHTS_EXT)
        )
        files.append("vocoder" + WEIGHTS_EXT)

    roi_stats = None
    if kind == "v2a":
        stats_path = os.path.join(save_folder, "roi_stats.json")
        if os.path.isfile(stats_path):
            with open(stats_path, encoding="utf-8") as handle:
                roi_stats = json.load(handle)
        else:
            roi_stats = {"mean": hparams.get("roi_mean"), "std": hparams.get("roi_std")}
        speakers = os.path.join(save_folder, "speakers.json")
        if os.path.isfile(speakers):
            import shutil

            shutil.copyfile(speakers, os.path.join(out_dir, "speakers.json"))
            files.append("speakers.json")

    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(
            render_card(kind, card_fields(run_folder, hparams, kind, out_dir, state))
        )
    files.append("README.md")

    text = interface_yaml(_arch_text(hparams), kind, roi_stats, has_vocoder)
    _write_interface(out_dir, text, files)
    # Load the folder back as from_hparams will: fail here, not after upload.
    modules = load_exported_modules(out_dir)
    if kind == "a2a":
        _write_decoder(out_dir, modules["model"])
        files.append(DECODER_FILENAME)
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
    _remove_legacy_files(out_dir)
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
