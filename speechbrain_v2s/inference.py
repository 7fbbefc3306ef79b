"""Inference interfaces, the SpeechBrain way (``from_hparams`` on a folder or Hub id).

:class:`VideoToSpeech` turns silent talking-face video into speech::

    from speechbrain_v2s.inference import VideoToSpeech
    v2s = VideoToSpeech.from_hparams(source="path/or/hub-id", savedir="models/v2s")
    wav = v2s.synthesize_file("talk.mp4")          # [samples] at 24 kHz

:class:`AudioToAudio` runs an A2A model (resynthesis through the pre-trained
encoder and decoder; ``encode``/``decode`` expose the two halves to pipelines).

The model folder holds ``hyperparams.yaml`` (``modules: {model, vocoder?}``, the
ROI normalisation and a ``pretrainer``) and the weights; see
:mod:`speechbrain_v2s.hub` for exporting a training run to one.
"""

import os

import torch
from speechbrain.inference.interfaces import Pretrained

from speechbrain_v2s.audio.features import SAMPLE_RATE, SAMPLES_PER_FRAME
from speechbrain_v2s.video.frames import centre_crop_tensor, normalise_frames


def chunk_spans(total, chunk, overlap):
    """``(start, end)`` frame windows of at most ``chunk`` frames covering
    ``total`` frames, consecutive windows sharing ``overlap`` frames.

    Example
    -------
    >>> chunk_spans(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    >>> chunk_spans(3, 4, 1)
    [(0, 3)]
    """
    if overlap >= chunk:
        raise ValueError(f"overlap ({overlap}) must be smaller than chunk ({chunk})")
    spans, start = [], 0
    while True:
        end = min(start + chunk, total)
        spans.append((start, end))
        if end >= total:
            return spans
        start = end - overlap


def crossfade_concat(pieces, overlap):
    """Join 1-D pieces that overlap by ``overlap`` samples with linear fades.

    A sum of complementary ramps keeps the level constant across each seam.

    Example
    -------
    >>> import torch
    >>> crossfade_concat([torch.ones(6), torch.ones(6)], 2).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    out = pieces[0]
    for piece in pieces[1:]:
        n = min(overlap, out.shape[-1], piece.shape[-1])
        if n == 0:
            out = torch.cat([out, piece], -1)
            continue
        ramp = torch.linspace(0.0, 1.0, n + 2, dtype=out.dtype, device=out.device)[1:-1]
        seam = out[..., -n:] * (1 - ramp) + piece[..., :n] * ramp
        out = torch.cat([out[..., :-n], seam, piece[..., n:]], -1)
    return out


class _SynthesisMixin:
    """Model → waveform, the mel family's vocoder included, chunked if long."""

    def _to_wave(self, out):
        if out.dim() == 2:  # waveform family
            return out
        vocoder = getattr(self.mods, "vocoder", None)
        if vocoder is None:
            from speechbrain_v2s.audio.features import mel_to_wave_griffinlim

            return mel_to_wave_griffinlim(out)
        return vocoder(out.transpose(1, 2)).squeeze(1)

    def _run(self, inputs, lens, speaker=None):
        model = self.mods.model
        with model.modality(model.default_modality):
            out, out_lens = model(inputs, lens, speaker=speaker)
        return self._to_wave(out), out_lens

    def decode(self, feats, lens=None, speaker=None):
        """Features ``[B, T, C]`` → waveform (temporal module, decoder, vocoder)."""
        lens = torch.ones(feats.shape[0]) if lens is None else lens
        model = self.mods.model
        with model.modality(model.default_modality):
            out, out_lens = model.decode(feats, lens.to(self.device), speaker=speaker)
        return self._to_wave(out), out_lens

    def _synthesize_long(self, frames_input, speaker=None):
        """One utterance (batch of 1, time first after the batch axis), chunked."""
        total = frames_input.shape[1]
        chunk = int(getattr(self.hparams, "chunk_frames", 250))
        overlap = int(getattr(self.hparams, "chunk_overlap", 25))
        pieces = []
        for start, end in chunk_spans(total, chunk, overlap):
            piece = frames_input[:, start:end].to(self.device)
            wav, _ = self._run(piece, torch.ones(1, device=self.device), speaker)
            pieces.append(wav[0, : (end - start) * SAMPLES_PER_FRAME].cpu())
        return crossfade_concat(pieces, overlap * SAMPLES_PER_FRAME)


class VideoToSpeech(_SynthesisMixin, Pretrained):
    """Speech from silent talking-face video (any V2A model of this package).

    Hyperparameters read from ``hyperparams.yaml``: ``roi_mean``, ``roi_std``
    (training-set pixel statistics), optional ``crop_size`` (88),
    ``chunk_frames`` (250: videos longer than this are synthesised in
    overlapping chunks, bounding memory) and ``chunk_overlap`` (25 frames,
    cross-faded), ``roi_detector`` ("auto").

    Example
    -------
    >>> from speechbrain_v2s.inference import chunk_spans
    >>> len(chunk_spans(15000, 250, 25))  # a 10-minute video
    67
    """

    HPARAMS_NEEDED = ["roi_mean", "roi_std"]
    MODULES_NEEDED = ["model"]

    def prepare_frames(self, frames):
        """uint8 mouth crops ``[T, H, W]`` → normalised ``[1, T, 1, 88, 88]``."""
        crop = int(getattr(self.hparams, "crop_size", 88))
        frames = centre_crop_tensor(frames, crop)
        roi = normalise_frames(frames, self.hparams.roi_mean, self.hparams.roi_std)
        return roi.unsqueeze(0)

    def mouth_frames(self, path, already_cropped=False):
        """uint8 mouth crops of a video file (face landmarks → aligned crop)."""
        from speechbrain_v2s.video.mouth_roi import extract_mouth_roi, resize_roi

        if str(path).endswith(".npz"):
            from speechbrain_v2s.video.mouth_roi import load_roi

            return load_roi(path)[0]
        if already_cropped:
            from speechbrain_v2s.video.io import read_video

            clip = read_video(path, target_fps=25.0, grayscale=True)
            return resize_roi(clip.frames, 96)
        detector = getattr(self.hparams, "roi_detector", "auto")
        return extract_mouth_roi(path, detector=detector).frames

    def speaker_embedding(self, reference_audio):
        """Speaker embedding of a reference clip, for models conditioned on one."""
        embedder = getattr(self.mods, "speaker_embedder", None)
        if embedder is None or reference_audio is None:
            return None
        from speechbrain_v2s.audio.io import load_audio

        wav = load_audio(reference_audio, SAMPLE_RATE).unsqueeze(0).to(self.device)
        return embedder(wav)

    @torch.no_grad()
    def synthesize_file(self, path, reference_audio=None, already_cropped=False):
        """Waveform ``[samples]`` (24 kHz, 960 samples per video frame) for a
        video file (raw face video, a mouth-crop video with
        ``already_cropped=True``, or a cached ``.npz`` of mouth crops)."""
        if not os.path.isfile(str(path)):
            raise FileNotFoundError(f"{path}: no such file")
        frames = self.mouth_frames(path, already_cropped)
        speaker = self.speaker_embedding(reference_audio)
        return self._synthesize_long(self.prepare_frames(frames), speaker)

    @torch.no_grad()
    def synthesize_batch(self, rois, lens=None, speaker=None):
        """Normalised ROI batch ``[B, T, 1, 88, 88]`` → (waveforms ``[B, T*960]``,
        relative lengths)."""
        if lens is None:
            lens = torch.ones(rois.shape[0])
        return self._run(rois.to(self.device), lens.to(self.device), speaker)

    def encode(self, rois, lens=None):
        """Video features ``[B, T, C]`` (25 fps) for other pipelines."""
        lens = torch.ones(rois.shape[0]) if lens is None else lens
        return self.mods.model.encode(rois.to(self.device), lens.to(self.device))

    def forward(self, rois, lens=None):
        """Same as :meth:`synthesize_batch`."""
        return self.synthesize_batch(rois, lens)


class AudioToAudio(_SynthesisMixin, Pretrained):
    """An A2A model: speech in, the same speech resynthesised by the decoder
    that V2A models are initialised from.

    Example
    -------
    >>> AudioToAudio.MODULES_NEEDED
    ['model']
    """

    MODULES_NEEDED = ["model"]

    def _inputs(self, wavs):
        from speechbrain_v2s.audio.features import compute_mel

        encoder = self.mods.model.encoder
        if type(encoder).__name__ == "MelEncoder":
            return compute_mel(wavs)
        return wavs

    @torch.no_grad()
    def resynthesize_file(self, path):
        """Waveform ``[samples]`` at 24 kHz: ``path`` through encoder and decoder."""
        from speechbrain_v2s.audio.io import load_audio
        from speechbrain_v2s.data.pipelines import trim_to_frames

        wav = trim_to_frames(load_audio(path, SAMPLE_RATE)).unsqueeze(0)
        out, _ = self.resynthesize_batch(wav)
        return out[0].cpu()

    @torch.no_grad()
    def resynthesize_batch(self, wavs, lens=None):
        """``[B, S]`` at 24 kHz → (``[B, S']``, relative lengths)."""
        lens = torch.ones(wavs.shape[0]) if lens is None else lens
        inputs = self._inputs(wavs.to(self.device))
        return self._run(inputs, lens.to(self.device))

    def encode(self, wavs, lens=None):
        """Audio features ``[B, T, C]`` at 25 fps."""
        lens = torch.ones(wavs.shape[0]) if lens is None else lens
        inputs = self._inputs(wavs.to(self.device))
        return self.mods.model.encode(inputs, lens.to(self.device))

    def forward(self, wavs, lens=None):
        """Same as :meth:`resynthesize_batch`."""
        return self.resynthesize_batch(wavs, lens)
