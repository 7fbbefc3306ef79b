"""The V2S model: encoder + temporal module (+ speaker) + decoder.

A2A and V2A models are the same class with a different encoder, so the
paper's "initialise the V2A decoder from the A2A decoder" is
:meth:`V2SModel.load_pretrained_a2a`: a state-dict load of chosen parts with a
report of what was loaded, skipped and why, batch-norm statistics going into
the ``audio`` set (and seeding ``video``).

Example
-------
>>> import torch
>>> from speechbrain_v2s.nnet.encoders import MelEncoder
>>> from speechbrain_v2s.nnet.temporal import TemporalModule
>>> from speechbrain_v2s.nnet.decoders import MelDecoder
>>> model = V2SModel(
...     MelEncoder(out_channels=8, channels=8),
...     TemporalModule(8, hidden_size=4, upsample=4, output_size=8),
...     MelDecoder(8, d_model=8, num_layers=1, nhead=2, d_ffn=16),
... )
>>> out, lens = model(torch.randn(2, 12, 80), torch.tensor([1.0, 0.67]))
>>> out.shape, lens.tolist()
(torch.Size([2, 12, 80]), [1.0, 0.6700000166893005])
"""

import dataclasses
import hashlib
import json

import torch
from torch import nn

from speechbrain_v2s.nnet.normalization import (
    cross_modal_layers,
    set_modality,
    use_modality,
)

PARTS = ("encoder", "temporal", "speaker", "decoder")
CHECKPOINT_FORMAT = "speechbrain_v2s.a2a/1"
INPUT_KINDS = ("wave", "mel", "video")
OUTPUT_KINDS = ("wave", "mel")
#: The training wrapper (``training.strategies.TrainingModel``, the Brain's
#: module ``model``) holds the V2S model as its attribute ``model``: every
#: name of the V2S model in a training checkpoint starts with this.
WRAPPER_PREFIX = "model."
_STAT_NAMES = ("running_mean", "running_var", "num_batches_tracked")


@dataclasses.dataclass
class LoadReport:
    """What :meth:`V2SModel.load_pretrained_a2a` did, tensor by tensor.

    Attributes
    ----------
    loaded : list of str
        Model tensors set from the checkpoint (batch-norm statistic sets
        seeded from the ``audio`` set included).
    skipped : list of str
        Tensors of the chosen parts present on one side only.
    mismatched : list of str
        Tensors whose shapes differ (left untouched).
    reasons : dict
        Tensor name → why it was skipped or mismatched.

    Example
    -------
    >>> print(LoadReport(loaded=["decoder.w"], skipped=["decoder.b"],
    ...                  reasons={"decoder.b": "not in checkpoint"}))
    loaded 1 tensors, skipped 1, mismatched 0
      skipped decoder.b: not in checkpoint
    """

    loaded: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    mismatched: list = dataclasses.field(default_factory=list)
    reasons: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        lines = [
            f"loaded {len(self.loaded)} tensors, skipped {len(self.skipped)}, "
            f"mismatched {len(self.mismatched)}"
        ]
        for kind, names in (("skipped", self.skipped), ("mismatched", self.mismatched)):
            lines += [
                f"  {kind} {name}: {self.reasons.get(name, '')}" for name in names
            ]
        return "\n".join(lines)


def unwrap_state(state):
    """The V2S model's entries of a training checkpoint's state dict, with
    :data:`WRAPPER_PREFIX` removed (the wrapper's other modules, such as the
    joint strategy's A2A encoder, left out).

    Example
    -------
    >>> unwrap_state({"model.decoder.w": 1, "a2a_encoder.w": 2})
    {'decoder.w': 1}
    """
    return {
        k[len(WRAPPER_PREFIX) :]: v
        for k, v in state.items()
        if k.startswith(WRAPPER_PREFIX)
    }


def _kind(given, module, attribute, kinds):
    """``given``, else ``module``'s declared ``attribute``; one of ``kinds``."""
    kind = given or getattr(module, attribute, None)
    if kind not in kinds:
        raise ValueError(
            f"{attribute} {kind!r} ({type(module).__name__}) is not one of "
            f"{', '.join(kinds)}: declare it on the class or pass {attribute}"
        )
    return kind


def _fingerprint(state, parts):
    """Short hash of the names and shapes of ``parts`` in a state dict."""
    digest = hashlib.sha1()
    for name in sorted(state):
        if name.split(".", 1)[0] in parts:
            digest.update(f"{name}:{tuple(state[name].shape)};".encode())
    return digest.hexdigest()[:16]


class V2SModel(nn.Module):
    """Encoder → temporal module → (speaker conditioning) → decoder.

    Arguments
    ---------
    encoder : torch.nn.Module
        ``forward(x, lens) -> [B, T, C]`` at 25 fps (audio, mel or video).
    temporal : torch.nn.Module
        ``forward(feats, lens) -> [B, T', C']`` (``T' = T`` or ``4 T``).
    decoder : torch.nn.Module
        ``forward(h, lens)`` → waveform ``[B, T * 960]`` or mel ``[B, 4 T, 80]``.
    speaker : torch.nn.Module, optional
        ``forward(h, speaker, lens)``, e.g. :class:`SpeakerConditioner`.
    default_modality : str
        ``"audio"`` (A2A) or ``"video"`` (V2A): the batch-norm statistics set
        used unless :meth:`modality` says otherwise.
    output_kind : str, optional
        ``"wave"`` or ``"mel"`` (default: the decoder's declared
        ``output_kind``).
    input_kind : str, optional
        ``"wave"``, ``"mel"`` or ``"video"`` (default: the encoder's declared
        ``input_kind``).

    Example
    -------
    >>> import torch
    >>> from speechbrain_v2s.nnet.encoders import AudioEncoder
    >>> from speechbrain_v2s.nnet.temporal import TemporalModule
    >>> from speechbrain_v2s.nnet.decoders import WaveDecoder
    >>> model = V2SModel(
    ...     AudioEncoder(out_channels=8, channels=(4, 4, 4, 4, 8)),
    ...     TemporalModule(8, hidden_size=4),
    ...     WaveDecoder(8, channels=8, upsample_factors=(8, 6, 5, 4)),
    ... )
    >>> with model.modality("video"):
    ...     out, lens = model(torch.randn(1, 1920))
    >>> out.shape, model.input_kind, model.output_kind
    (torch.Size([1, 1920]), 'wave', 'wave')
    """

    def __init__(
        self,
        encoder,
        temporal,
        decoder,
        speaker=None,
        default_modality="audio",
        output_kind=None,
        input_kind=None,
    ):
        super().__init__()
        self.encoder = encoder
        self.temporal = temporal
        self.speaker = speaker
        self.decoder = decoder
        # Declared by the parts, never guessed from class names or ranks.
        self.input_kind = _kind(input_kind, encoder, "input_kind", INPUT_KINDS)
        self.output_kind = _kind(output_kind, decoder, "output_kind", OUTPUT_KINDS)
        self.default_modality = default_modality
        set_modality(self, default_modality)

    # ------------------------------------------------------------ modality
    def modality(self, name):
        """Use the ``name`` batch-norm statistics inside the ``with`` block."""
        return use_modality(self, name)

    # ------------------------------------------------------------ forward
    def encode(self, x, lens=None):
        """Encoder features ``[B, T, C]`` (25 fps)."""
        return self.encoder(x, lens)

    def decode(self, feats, lens=None, speaker=None):
        """Temporal module, speaker conditioning and decoder on encoder
        features; returns ``(out, out_lens)``."""
        if lens is None:
            lens = torch.ones(feats.shape[0], device=feats.device)
        h = self.temporal(feats, lens)
        if self.speaker is not None:
            h = self.speaker(h, speaker, lens)
        return self.decoder(h, lens), lens

    def forward(self, x, lens=None, speaker=None):
        """Input → ``(out, out_lens)``: waveform ``[B, T*960]`` or mel
        ``[B, 4T, 80]``, with relative lengths."""
        if lens is None:
            lens = torch.ones(x.shape[0], device=x.device)
        return self.decode(self.encode(x, lens), lens, speaker)

    # ------------------------------------------------------------ streaming
    @property
    def causal(self):
        """Whether every part is causal (then the model streams)."""
        parts = [getattr(self, p) for p in ("encoder", "temporal", "decoder")]
        return all(getattr(part, "causal", False) for part in parts)

    def context_frames(self):
        """``(past, future)`` input frames one output frame depends on before
        and after its own, summed over the parts' own ``context_frames``
        (``inf`` through a recurrent layer; ``None`` if a part does not say).

        Example
        -------
        >>> from speechbrain_v2s.nnet.encoders import VideoEncoder
        >>> from speechbrain_v2s.nnet.temporal import TemporalModule
        >>> from speechbrain_v2s.nnet.decoders import WaveDecoder
        >>> model = V2SModel(
        ...     VideoEncoder(8, 4, 4, causal=True),
        ...     TemporalModule(8, hidden_size=4, causal=True),
        ...     WaveDecoder(4, channels=8, causal=True, lookahead_frames=2),
        ... )
        >>> model.causal, model.context_frames(), model.lookahead_frames
        (True, (inf, 2), 2)
        """
        past = future = 0
        for part in (self.encoder, self.temporal, self.decoder):
            if not hasattr(part, "context_frames"):
                return None
            before, after = part.context_frames()
            past, future = past + before, future + after
        return past, future

    @property
    def lookahead_frames(self):
        """Input frames after a frame that its output waits for (streaming
        latency, in video frames); ``None`` if a part does not say."""
        context = self.context_frames()
        return None if context is None else context[1]

    def stream(self, x, cache, speaker=None, final=False):
        """One step of a stream: the input's next frames → the output they
        determine (eval mode, batch of one or more streams in step).

        Arguments
        ---------
        x : torch.Tensor
            The next ``n >= 0`` input frames, ``[B, n, ...]`` (the encoder's
            input layout).
        cache : dict
            The stream's state: empty at its start, then what the previous
            call left (convolution contexts, RNN states).
        speaker : torch.Tensor, optional
            As in :meth:`forward`.
        final : bool
            The input ends after ``x``: also return the output that waited
            for look-ahead frames (as the offline model pads the end).

        Returns
        -------
        torch.Tensor
            The newly determined output: the samples (or mel frames) of the
            frames up to ``lookahead_frames`` before the last input, or up to
            the end with ``final``. The concatenation over calls equals the
            offline :meth:`forward` of the whole input.
        """
        if not self.causal:
            raise ValueError("only a model whose every part is causal streams")
        if self.training:
            raise ValueError("streaming is for eval mode (batch-norm statistics)")
        if x.shape[1]:
            lens = torch.ones(x.shape[0], device=x.device)
            h = self.encoder(x, None, cache=cache.setdefault("encoder", {}))
            h = self.temporal(h, None, cache=cache.setdefault("temporal", {}))
            if self.speaker is not None:
                h = self.speaker(h, speaker, lens)
        else:
            h = x.new_zeros(x.shape[0], 0, self.temporal.output_size)
        return self.decoder(h, None, cache=cache.setdefault("decoder", {}), final=final)

    # ------------------------------------------------------------ transfer
    def config(self):
        """Architecture summary stored with checkpoints."""
        state = self.state_dict()
        return {
            "format": CHECKPOINT_FORMAT,
            "output_kind": self.output_kind,
            "default_modality": self.default_modality,
            "classes": {
                part: type(getattr(self, part)).__name__
                for part in PARTS
                if getattr(self, part) is not None
            },
            "fingerprint": _fingerprint(state, ("temporal", "decoder")),
            "num_parameters": sum(p.numel() for p in self.parameters()),
        }

    def save_pretrained(self, path):
        """Write the whole state dict plus :meth:`config`: the A2A → V2A
        transfer file (``a2a_model.ckpt``) :meth:`load_pretrained_a2a` reads."""
        torch.save({"config": self.config(), "state_dict": self.state_dict()}, path)

    def load_pretrained_a2a(
        self,
        path_or_state_dict,
        parts=("temporal", "decoder"),
        strict=True,
        seed_video=True,
    ):
        """Load ``parts`` of an A2A checkpoint into this model.

        Arguments
        ---------
        path_or_state_dict : str or dict
            A file from :meth:`save_pretrained`, its loaded dict, a plain
            state dict (a training checkpoint's ``model.ckpt``, names under
            :data:`WRAPPER_PREFIX`, is accepted too), or a ``.safetensors``
            file (the exported ``a2a_model.safetensors``: :meth:`config` as
            JSON under ``config`` in its header).
        parts : tuple of str
            Sub-modules to load (``("encoder",)`` for the joint strategy's
            audio encoder).
        strict : bool
            Raise on any shape mismatch or tensor present on one side only;
            otherwise report and skip it.
        seed_video : bool
            Also copy the batch-norm statistics into the ``video`` sets (else
            only ``audio`` is loaded and ``video`` is left as is).

        Returns
        -------
        LoadReport

        Raises
        ------
        ValueError
            With ``strict``: the first mismatched tensor, with both shapes, or
            tensors missing from one side.
        """
        state, config = self._read_checkpoint(path_or_state_dict)
        if config and config.get("output_kind") not in (None, self.output_kind):
            raise ValueError(
                f"checkpoint holds a {config['output_kind']} model; this model "
                f"outputs {self.output_kind}"
            )
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise ValueError(f"unknown parts {unknown}; expected some of {PARTS}")
        own = self.state_dict()
        bn_prefixes = {
            f"{part}.{name}." if name else f"{part}."
            for part in parts
            if getattr(self, part) is not None
            for name, _ in cross_modal_layers(getattr(self, part))
        }
        report, new_values = LoadReport(), {}
        wanted = [n for n in own if n.split(".", 1)[0] in parts]
        for name in wanted:
            source = self._source_name(name, state, bn_prefixes)
            if source is None:
                # Video statistics: seeded from audio below, never read.
                continue
            if source not in state:
                report.skipped.append(name)
                report.reasons[name] = "not in checkpoint"
                continue
            value = state[source]
            if tuple(value.shape) != tuple(own[name].shape):
                report.mismatched.append(name)
                report.reasons[name] = (
                    f"checkpoint shape {tuple(value.shape)} != model shape "
                    f"{tuple(own[name].shape)}"
                )
                continue
            new_values[name] = value
        used = {self._source_name(n, state, bn_prefixes) for n in wanted}
        for name in state:
            if name.split(".", 1)[0] in parts and name not in used:
                if self._is_other_stat(name, bn_prefixes):
                    continue
                report.skipped.append(name)
                report.reasons[name] = "not in model"
        if strict and report.mismatched:
            name = report.mismatched[0]
            raise ValueError(f"A2A checkpoint tensor {name}: {report.reasons[name]}")
        if strict and report.skipped:
            raise ValueError(
                "A2A checkpoint does not match the model: "
                + "; ".join(f"{n} ({report.reasons[n]})" for n in report.skipped[:5])
                + ("; ..." if len(report.skipped) > 5 else "")
            )
        with torch.no_grad():
            for name, value in new_values.items():
                own[name].copy_(value.to(own[name]))
                report.loaded.append(name)
            for part in parts:
                module = getattr(self, part)
                if module is None:
                    continue
                for name, layer in cross_modal_layers(module):
                    prefix = f"{part}.{name}." if name else f"{part}."
                    first = layer.modalities[0]
                    if not all(
                        f"{prefix}{s}_{first}" in new_values for s in _STAT_NAMES
                    ):
                        continue
                    targets = layer.modalities[1:] if seed_video else []
                    layer.seed_statistics(first, list(targets))
                    report.loaded += [
                        f"{prefix}{s}_{t}" for t in targets for s in _STAT_NAMES
                    ]
        return report

    @staticmethod
    def _read_checkpoint(path_or_state_dict):
        if isinstance(path_or_state_dict, dict):
            data = path_or_state_dict
        elif str(path_or_state_dict).endswith(".safetensors"):
            from speechbrain_v2s.nnet.weights import read_weights

            state, metadata = read_weights(path_or_state_dict)
            config = metadata.get("config")
            data = (
                {"state_dict": state, "config": json.loads(config)} if config else state
            )
        else:
            data = torch.load(
                str(path_or_state_dict), map_location="cpu", weights_only=True
            )
        config = data.get("config") if "state_dict" in data else None
        state = data["state_dict"] if "state_dict" in data else data
        if not any(k.split(".", 1)[0] in PARTS for k in state) and any(
            k.startswith(WRAPPER_PREFIX) for k in state
        ):
            state = unwrap_state(state)
        return state, config

    @staticmethod
    def _bn_stat(name, bn_prefixes):
        """``(prefix, stat, modality)`` if ``name`` is a CMBN statistic."""
        prefix, _, leaf = name.rpartition(".")
        prefix += "."
        if prefix not in bn_prefixes:
            return None
        for stat in _STAT_NAMES:
            if leaf.startswith(stat + "_"):
                return prefix, stat, leaf[len(stat) + 1 :]
        return None

    def _source_name(self, name, state, bn_prefixes):
        """Checkpoint name feeding model tensor ``name`` (None: seeded later)."""
        info = self._bn_stat(name, bn_prefixes)
        if info is None:
            return name
        prefix, stat, modality = info
        if modality != "audio":
            return None
        # A plain BatchNorm state has one set: it becomes the audio set.
        if name not in state and prefix + stat in state:
            return prefix + stat
        return name

    def _is_other_stat(self, name, bn_prefixes):
        """A checkpoint's non-audio CMBN statistic (deliberately not read)."""
        info = self._bn_stat(name, bn_prefixes)
        return info is not None and info[2] != "audio"
