"""Fine-tuning strategies of the paper, as one hparam ``finetune_strategy``.

* ``scratch`` — every part starts from random weights;
* ``init`` — temporal module and decoder start from the A2A checkpoint, all trained;
* ``freeze_decoder`` — as ``init``, with the decoder frozen;
* ``joint`` — the paper's Algorithm 1: as ``init``, and each step also runs the
  A2A path (audio encoder → shared temporal+decoder, audio batch-norm set) on
  the batch's audio and adds its loss.

:class:`TrainingModel` puts both paths in one ``forward`` so that DDP sees a
single forward per backward.

Example
-------
>>> sorted(FINETUNE_STRATEGIES)
['freeze_decoder', 'init', 'joint', 'scratch']
"""

import logging
import os

import torch

from speechbrain_v2s.audio.features import compute_mel
from speechbrain_v2s.nnet.model import WRAPPER_PREFIX
from speechbrain_v2s.nnet.normalization import use_modality

logger = logging.getLogger(__name__)

FINETUNE_STRATEGIES = ("scratch", "init", "freeze_decoder", "joint")


def _encoder_input(input_kind, batch_input):
    """A mel-reading model gets the log-mel of the batch's waveform."""
    return compute_mel(batch_input) if input_kind == "mel" else batch_input


class TrainingModel(torch.nn.Module):
    """What the Brain trains: a V2S model (+ the A2A encoder for ``joint``).

    The model is held as ``model``, so its names in a training checkpoint
    start with :data:`~speechbrain_v2s.nnet.model.WRAPPER_PREFIX`.

    Arguments
    ---------
    model : speechbrain_v2s.nnet.model.V2SModel
        The model being trained (A2A or V2A), or any module that declares its
        ``input_kind`` (what it reads: ``"wave"``, ``"mel"`` or ``"video"``;
        a mel is computed here from the batch's audio) and the
        ``default_modality`` of its cross-modal batch norms (e.g. the vocoder
        of :mod:`speechbrain_v2s.training.vocoder`).
    a2a_encoder : torch.nn.Module, optional
        Audio encoder of the A2A path (declaring its ``input_kind``); given
        only for the ``joint`` strategy.

    Example
    -------
    >>> import torch
    >>> class Toy(torch.nn.Module):
    ...     input_kind, default_modality = "wave", "audio"
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.decoder = torch.nn.Linear(1, 1)
    ...     def forward(self, x, lens, speaker=None):
    ...         return x * 2, lens
    >>> wrapped = TrainingModel(Toy())
    >>> wrapped(torch.ones(1, 4), torch.ones(1))["out"].tolist()
    [[2.0, 2.0, 2.0, 2.0]]
    >>> all(name.startswith(WRAPPER_PREFIX) for name in wrapped.state_dict())
    True
    """

    def __init__(self, model, a2a_encoder=None):
        super().__init__()
        self.model = model
        self.a2a_encoder = a2a_encoder

    def forward(self, inputs, lens, speaker=None, audio=None):
        """Main path on ``inputs``; A2A path on ``audio`` when joint."""
        inputs = _encoder_input(self.model.input_kind, inputs)
        with use_modality(self.model, self.model.default_modality):
            out, out_lens = self.model(inputs, lens, speaker=speaker)
        result = {"out": out, "out_lens": out_lens}
        if self.a2a_encoder is not None and audio is not None:
            a2a_in = _encoder_input(self.a2a_encoder.input_kind, audio)
            with use_modality(self.model, "audio"):
                feats = self.a2a_encoder(a2a_in, lens)
                result["a2a_out"], _ = self.model.decode(feats, lens, speaker=speaker)
        return result


def decoder_parameter_names(training_model):
    """Names (in ``training_model``) of the decoder's parameters.

    Example
    -------
    >>> import torch
    >>> m = torch.nn.Module()
    >>> m.model = torch.nn.Module()
    >>> m.model.decoder = torch.nn.Linear(2, 2)
    >>> sorted(decoder_parameter_names(m))
    ['model.decoder.bias', 'model.decoder.weight']
    """
    return {
        name
        for name, _ in training_model.named_parameters()
        if name.startswith(WRAPPER_PREFIX + "decoder.")
    }


NO_A2A_FIX = (
    "train the A2A recipe first (it writes its pretrained_decoder_path), "
    "pass --pretrained_a2a <file, folder or Hub id>, "
    "or pass --finetune_strategy scratch"
)


def check_pretrained_a2a(strategy, pretrained_a2a):
    """Fail fast when ``finetune_strategy`` needs an A2A checkpoint that is missing.

    Run before data preparation, so a wrong or not yet trained ``pretrained_a2a``
    is reported in seconds, not after the corpus and mouth ROIs are built. A
    relative path is resolved against the current directory (the recipe folder
    the user runs from); a Hub id is left to the load itself (fetching it twice
    would cost a download).

    Arguments
    ---------
    strategy : str
        The ``finetune_strategy``; ``scratch`` needs nothing.
    pretrained_a2a : str or None
        A checkpoint file, a folder holding one, or a Hub id.

    Raises
    ------
    ValueError
        A strategy that needs ``pretrained_a2a`` without one.
    FileNotFoundError
        A local ``pretrained_a2a`` that is missing or a folder without a checkpoint.

    Example
    -------
    >>> check_pretrained_a2a("scratch", "/no/such/a2a_model.ckpt")
    >>> check_pretrained_a2a("init", "/no/such/a2a_model.ckpt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: pretrained_a2a '/no/such/a2a_model.ckpt': no such file ...
    """
    if strategy == "scratch":
        return
    if not pretrained_a2a:
        raise ValueError(
            f"finetune_strategy={strategy} needs pretrained_a2a: {NO_A2A_FIX}"
        )
    from speechbrain_v2s.hub import is_hub_id, resolve_checkpoint

    source = str(pretrained_a2a)
    if is_hub_id(source):
        return
    if not os.path.exists(source):
        # A relative path is the usual mistake: show where it was looked for.
        where = os.path.abspath(source)
        where = "" if where == source else f" ({where})"
        raise FileNotFoundError(
            f"pretrained_a2a {source!r}: no such file or folder{where}; {NO_A2A_FIX}"
        )
    try:
        resolve_checkpoint(source)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}; {NO_A2A_FIX}") from None


def apply_finetune_strategy(
    model, strategy="scratch", pretrained_a2a=None, a2a_model=None, strict=True
):
    """Prepare ``model`` for V2A training with one of :data:`FINETUNE_STRATEGIES`.

    Arguments
    ---------
    model : speechbrain_v2s.nnet.model.V2SModel
        A freshly built V2A model.
    strategy : str
        One of ``scratch``, ``init``, ``freeze_decoder``, ``joint``.
    pretrained_a2a : str, optional
        A2A checkpoint (file written by ``save_pretrained``, a local
        folder or a Hub id holding one); required by every strategy but scratch.
    a2a_model : speechbrain_v2s.nnet.model.V2SModel, optional
        An A2A model of the same architecture; the ``joint`` strategy loads the
        pre-trained audio encoder into it and runs its encoder on each batch's
        audio through the shared temporal module and decoder.
    strict : bool
        Whether a shape mismatch in the checkpoint is an error.

    Returns
    -------
    (TrainingModel, LoadReport or None)

    Example
    -------
    >>> import torch
    >>> apply_finetune_strategy(torch.nn.Linear(1, 1), "fancy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: finetune_strategy 'fancy' is not one of scratch, init, ...
    """
    if strategy not in FINETUNE_STRATEGIES:
        raise ValueError(
            f"finetune_strategy {strategy!r} is not one of "
            + ", ".join(FINETUNE_STRATEGIES)
        )
    if strategy == "scratch":
        if pretrained_a2a:
            logger.warning("finetune_strategy=scratch: pretrained_a2a is ignored")
        return TrainingModel(model), None
    if not pretrained_a2a:
        raise ValueError(f"finetune_strategy={strategy} needs pretrained_a2a")
    from speechbrain_v2s.hub import resolve_checkpoint

    report = model.load_pretrained_a2a(
        resolve_checkpoint(pretrained_a2a), strict=strict
    )
    logger.info("Loaded A2A weights from %s: %s", pretrained_a2a, report)
    if strategy == "freeze_decoder":
        for param in model.decoder.parameters():
            param.requires_grad_(False)
    if strategy == "joint":
        if a2a_model is None:
            raise ValueError("finetune_strategy=joint needs an a2a_model")
        a2a_model.load_pretrained_a2a(
            resolve_checkpoint(pretrained_a2a), parts=("encoder",), strict=strict
        )
        return TrainingModel(model, a2a_model.encoder), report
    return TrainingModel(model), report
