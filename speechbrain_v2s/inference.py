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

import ctypes
import math
import os
import queue
import threading

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


class CrossfadeJoiner:
    """Joins pieces (time last) that overlap by ``overlap`` samples, one piece
    at a time, with linear fades: a sum of complementary ramps keeps the level
    constant across each seam.

    Only the finished output and the last ``overlap`` samples (still to be
    faded into the next piece) are held, so a long stream of windows costs
    its output and one window.

    Example
    -------
    >>> import torch
    >>> joiner = CrossfadeJoiner(2)
    >>> joiner.add(torch.ones(6))
    >>> joiner.add(torch.zeros(6))
    >>> [round(x, 2) for x in joiner.finish().tolist()]
    [1.0, 1.0, 1.0, 1.0, 0.67, 0.33, 0.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, overlap):
        self.overlap = int(overlap)
        self.done, self.tail = [], None

    def add(self, piece):
        """Append ``piece``; its first ``overlap`` samples fade in over the
        previous piece's last ones."""
        joined = piece
        if self.tail is not None:
            tail = self.tail
            n = min(self.overlap, tail.shape[-1], piece.shape[-1])
            ramp = torch.linspace(0.0, 1.0, n + 2, dtype=piece.dtype)[1:-1]
            seam = tail[..., tail.shape[-1] - n :] * (1 - ramp) + piece[..., :n] * ramp
            joined = torch.cat(
                [tail[..., : tail.shape[-1] - n], seam, piece[..., n:]], -1
            )
        cut = max(joined.shape[-1] - self.overlap, 0)
        # clone: keep the samples, not the storage of the whole window
        self.done.append(joined[..., :cut].clone())
        self.tail = joined[..., cut:].clone()

    def finish(self):
        """The joined output."""
        if self.tail is None:
            raise ValueError("no pieces were added")
        return torch.cat(self.done + [self.tail], -1)


def crossfade_concat(pieces, overlap):
    """Join pieces that overlap by ``overlap`` samples with linear fades
    (:class:`CrossfadeJoiner` on a list).

    Example
    -------
    >>> import torch
    >>> crossfade_concat([torch.ones(6), torch.ones(6)], 2).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    joiner = CrossfadeJoiner(overlap)
    for piece in pieces:
        joiner.add(piece)
    return joiner.finish()


def release_freed_memory():
    """Hand memory that was freed back to the operating system (glibc only;
    elsewhere nothing happens).

    Windows of a long video allocate and free the same large activations
    again and again while the finished audio grows between them; glibc's
    heap keeps those freed pages, fragmented, so the resident memory of a
    10-minute mel-family synthesis crept from 1.5 to 2.0 GiB. Trimming after
    each window keeps it at about one window's worth above the model
    (measured in ``benchmarks/RESULTS.md``).

    Example
    -------
    >>> release_freed_memory() in (True, False)
    True
    """
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 (raises where libc is not glibc)
        except (OSError, AttributeError):
            _LIBC = False
    return bool(_LIBC and _LIBC.malloc_trim(0))


_LIBC = None


def prefetch_blocks(blocks, depth=2):
    """Iterate over ``blocks`` while a thread computes the next ``depth`` ones.

    Used to decode and preprocess the next chunk of a video while the model
    runs on the current one (both release the GIL in their heavy parts). An
    exception in the producer is raised by the consumer, where it would have
    been raised without the thread.

    Example
    -------
    >>> list(prefetch_blocks(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    items, stop, done = queue.Queue(maxsize=depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for block in blocks:
                if not put((block, None)):
                    return
            put((done, None))
        except BaseException as err:  # handed over to the consumer
            put((done, err))

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while True:
            block, err = items.get()
            if block is done:
                if err is not None:
                    raise err
                return
            yield block
    finally:
        stop.set()  # the consumer stopped early: let the producer end
        # and wait for it: a daemon thread still inside OpenCV when the
        # interpreter exits (Ctrl-C) aborts the process.
        worker.join()


class _SynthesisMixin:
    """Model → waveform, the mel family's vocoder included, chunked if long."""

    def _to_wave(self, out):
        if self.mods.model.output_kind == "wave":
            return out
        return self.vocode(out)

    def _require_mel_model(self):
        if self.mods.model.output_kind != "mel":
            raise ValueError(
                "this model outputs waveforms: it has no mel-to-wave path "
                "(vocoding is for the mel family)"
            )

    @property
    def vocoder_name(self):
        """Name of the mel-to-wave path: ``"Griffin-Lim"`` when the model
        folder ships no vocoder, else the vocoder's (``"HiFi-GAN"``)."""
        self._require_mel_model()
        vocoder = getattr(self.mods, "vocoder", None)
        if vocoder is None:
            return "Griffin-Lim"
        from speechbrain.lobes.models.HifiGAN import HifiganGenerator

        if isinstance(vocoder, HifiganGenerator):
            return "HiFi-GAN"
        return type(vocoder).__name__

    def vocode(self, mel):
        """Log-mel ``[B, frames, 80]`` (:func:`compute_mel`'s) → waveform
        ``[B, frames * 240]``, through the path the model's own mel takes:
        the folder's vocoder, or Griffin-Lim when it ships none.

        Raises ``ValueError`` for a waveform-family model. Gradients flow
        through a trained vocoder (as in :meth:`decode`); wrap the call in
        ``torch.no_grad()`` for inference.

        Example
        -------
        >>> import os, tempfile, torch
        >>> from speechbrain_v2s.audio.features import compute_mel
        >>> from speechbrain_v2s.export import export_architecture
        >>> root = os.path.dirname(os.path.dirname(__file__))
        >>> folder = tempfile.mkdtemp()
        >>> _ = export_architecture(os.path.join(root, "hparams", "tiny_mel.yaml"),
        ...                         folder)  # random weights, vocoder included
        >>> v2s = VideoToSpeech.from_hparams(source=folder, savedir=folder)
        >>> v2s.vocoder_name
        'HiFi-GAN'
        >>> v2s.vocode(compute_mel(torch.randn(1, 4800) * 0.1)).shape
        torch.Size([1, 4800])
        >>> del v2s.mods["vocoder"]  # as a folder exported without one
        >>> v2s.vocoder_name
        'Griffin-Lim'
        """
        self._require_mel_model()
        mel = mel.to(self.device)
        vocoder = getattr(self.mods, "vocoder", None)
        if vocoder is None:
            from speechbrain_v2s.audio.features import mel_to_wave_griffinlim

            return mel_to_wave_griffinlim(mel)
        return vocoder(mel.transpose(1, 2)).squeeze(1)

    @torch.no_grad()
    def vocode_audio(self, wav):
        """Real speech (``[samples]`` or ``[B, samples]``, 24 kHz) → its mel
        (:func:`compute_mel`, the training target) → :meth:`vocode`.

        The mel family's ceiling: what the model's waveform would be if it
        predicted the reference mel exactly, so the distance from this to
        the real audio is the vocoder's share of the gap. The output has the
        input's shape (the last, partial mel frame is silence).

        Example
        -------
        >>> import os, tempfile, torch
        >>> from speechbrain_v2s.export import export_architecture
        >>> root = os.path.dirname(os.path.dirname(__file__))
        >>> folder = tempfile.mkdtemp()
        >>> _ = export_architecture(os.path.join(root, "hparams", "tiny_mel.yaml"),
        ...                         folder)
        >>> v2s = VideoToSpeech.from_hparams(source=folder, savedir=folder)
        >>> v2s.vocode_audio(torch.randn(5000) * 0.1).shape
        torch.Size([5000])
        """
        from speechbrain_v2s.audio.features import compute_mel

        squeeze = wav.dim() == 1
        wav = wav.reshape(1, -1) if squeeze else wav
        out = self.vocode(compute_mel(wav.to(self.device).float())).cpu()
        out = torch.nn.functional.pad(out, (0, max(0, wav.shape[-1] - out.shape[-1])))
        out = out[..., : wav.shape[-1]]
        return out[0] if squeeze else out

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

    def _chunking(self):
        chunk = int(getattr(self.hparams, "chunk_frames", 250))
        overlap = int(getattr(self.hparams, "chunk_overlap", 25))
        if not 0 <= overlap < chunk:
            raise ValueError(
                f"chunk_overlap ({overlap}) must be in [0, chunk_frames ({chunk}))"
            )
        return chunk, overlap

    def _synthesize_stream(self, blocks, speaker=None):
        """One utterance whose model inputs ``[1, n, ...]`` arrive in blocks of
        any size (time after the batch axis) → waveform ``[samples]``.

        The model sees the windows of :func:`chunk_spans`, joined by a
        :class:`CrossfadeJoiner`: only one window of input and the finished
        float32 audio are held, so memory does not grow with the video
        beyond its audio.
        """
        chunk, overlap = self._chunking()
        joiner = CrossfadeJoiner(overlap * SAMPLES_PER_FRAME)
        pending, start, last_end = None, 0, 0  # input from frame `start` on

        def window(inputs):
            length = inputs.shape[1]
            wav = self._window_wave(inputs.to(self.device), speaker)
            joiner.add(wav[0, : length * SAMPLES_PER_FRAME].float().cpu())
            del wav
            release_freed_memory()

        for block in blocks:
            pending = block if pending is None else torch.cat([pending, block], 1)
            while pending.shape[1] >= chunk:
                window(pending[:, :chunk])
                last_end = start + chunk
                start = last_end - overlap
                pending = pending[:, chunk - overlap :]
        if pending is None:
            raise ValueError("no input frames")
        if last_end == 0 or start + pending.shape[1] > last_end:
            window(pending)  # the last, shorter window
        return joiner.finish()

    def _window_wave(self, inputs, speaker=None):
        """One window (batch of 1, no padding) → waveform ``[1, samples]``."""
        return self._run(inputs, torch.ones(1, device=self.device), speaker)[0]

    def _synthesize_long(self, frames_input, speaker=None):
        """One utterance (batch of 1, time first after the batch axis), chunked."""
        chunk, _ = self._chunking()
        blocks = (
            frames_input[:, start : start + chunk]
            for start in range(0, frames_input.shape[1], chunk)
        )
        return self._synthesize_stream(blocks, speaker)


def _encoder_halo(encoder):
    """Neighbour frames each side that one output frame of ``encoder`` sees,
    or ``None`` when unknown: the video encoder is a 3-D convolution front end
    (temporal stride 1) followed by per-frame layers; its ``context_frames``
    says how far (causal: all of it in the past)."""
    frontend = getattr(encoder, "frontend", None)
    if encoder.input_kind != "video" or not isinstance(frontend, torch.nn.Conv3d):
        return None
    if frontend.stride[0] != 1 or frontend.dilation[0] != 1:
        return None
    return max(encoder.context_frames())


class VideoToSpeech(_SynthesisMixin, Pretrained):
    """Speech from silent talking-face video (any V2A model of this package).

    Hyperparameters read from ``hyperparams.yaml``: ``roi_mean``, ``roi_std``
    (training-set pixel statistics), optional ``crop_size`` (88),
    ``chunk_frames`` (250: videos longer than this are synthesised in
    overlapping chunks, bounding memory) and ``chunk_overlap`` (25 frames,
    cross-faded), ``encode_frames`` (125: most frames the video encoder takes at
    once), ``roi_detector`` ("auto"), ``fold_batch_norm`` (True: see
    :meth:`VideoEncoder.fold_batch_norm`).

    Example
    -------
    >>> from speechbrain_v2s.inference import chunk_spans
    >>> len(chunk_spans(15000, 250, 25))  # a 10-minute video
    67
    """

    HPARAMS_NEEDED = ["roi_mean", "roi_std"]
    MODULES_NEEDED = ["model"]

    def _prepare_modules(self, freeze_params):
        """SpeechBrain's preparation (eval mode, frozen parameters), then, for
        a frozen model unless ``fold_batch_norm: False``, the video encoder's
        batch norms folded into its convolutions (faster; the loaded model is
        then for inference only)."""
        super()._prepare_modules(freeze_params)
        encoder = getattr(self.mods.model, "encoder", None)
        fold = getattr(self.hparams, "fold_batch_norm", True)
        if freeze_params and fold and hasattr(encoder, "fold_batch_norm"):
            encoder.fold_batch_norm()

    def prepare_frames(self, frames):
        """uint8 mouth crops ``[T, H, W]`` → normalised ``[1, T, 1, 88, 88]``."""
        crop = int(getattr(self.hparams, "crop_size", 88))
        frames = centre_crop_tensor(frames, crop)
        roi = normalise_frames(frames, self.hparams.roi_mean, self.hparams.roi_std)
        return roi.unsqueeze(0)

    def mouth_frames(self, path, already_cropped=False):
        """uint8 mouth crops of a video file (face landmarks → aligned crop)."""
        import numpy as np

        return np.concatenate(list(self.mouth_frame_blocks(path, already_cropped)))

    def mouth_frame_blocks(self, path, already_cropped=False):
        """uint8 mouth crops ``[n, 96, 96]`` of a video file, ``chunk_frames``
        at a time, in order.

        Videos are decoded block by block, never whole. A raw face video is
        read twice (:func:`speechbrain_v2s.video.stream.stream_mouth_rois`):
        face landmarks of all frames first, as the face is tracked over the
        whole video, with the detector on as many threads as torch uses;
        then the crops.
        """
        chunk, _ = self._chunking()
        path = str(path)
        if path.lower().endswith(".npz"):
            from speechbrain_v2s.video.mouth_roi import load_roi

            frames = load_roi(path)[0]
        elif already_cropped:
            from speechbrain_v2s.video.mouth_roi import resize_roi
            from speechbrain_v2s.video.stream import iter_video_chunks

            for block in iter_video_chunks(path, chunk, 25.0, grayscale=True):
                yield resize_roi(block, 96)
            return
        else:
            from speechbrain_v2s.video.landmarks import shared_detector
            from speechbrain_v2s.video.stream import ThreadedDetector, stream_mouth_rois

            detector = shared_detector(getattr(self.hparams, "roi_detector", "auto"))
            threads = min(torch.get_num_threads(), os.cpu_count() or 1)
            yield from stream_mouth_rois(
                path, ThreadedDetector(detector, threads), chunk
            )
            return
        for start in range(0, len(frames), chunk):
            yield frames[start : start + chunk]

    def _window_wave(self, inputs, speaker=None):
        """One window → waveform, the video encoder run on at most
        ``encode_frames`` frames at a time, in equal blocks (with the
        neighbours its 3-D front end sees, so the features are those of one
        pass): a 250-frame window of a paper-scale model then peaks about
        150 MB lower (measured), and the rest of the model still sees the
        whole window. Below ~100 frames per block the encoder gets slower, so
        a short window is one pass."""
        model = self.mods.model
        halo = _encoder_halo(model.encoder)
        most = int(getattr(self.hparams, "encode_frames", 125))
        total = inputs.shape[1]
        if halo is None or total <= most:
            return super()._window_wave(inputs, speaker)
        block = math.ceil(total / math.ceil(total / most))
        lens = torch.ones(1, device=self.device)
        feats = []
        with model.modality(model.default_modality):
            for start in range(0, total, block):
                first, last = max(0, start - halo), min(total, start + block + halo)
                piece = model.encode(inputs[:, first:last], lens)
                feats.append(piece[:, start - first : start - first + block])
            out, _ = model.decode(torch.cat(feats, 1), lens, speaker=speaker)
        return self._to_wave(out)

    def reset(self):
        """Forget the stream in progress: the next :meth:`stream` starts a new
        session (new speaker, new video)."""
        self._stream_state = {}

    def _stream_input(self, item):
        """One item of :meth:`stream` → model input ``[1, n, 1, 88, 88]``."""
        frames = torch.as_tensor(item)
        if frames.dim() == 2:  # one frame
            frames = frames.unsqueeze(0)
        if frames.dtype == torch.uint8:
            return self.prepare_frames(frames).to(self.device)
        if frames.dim() == 3:  # normalised [n, H, W]
            frames = frames.unsqueeze(1)
        return frames.unsqueeze(0).float().to(self.device)

    @torch.no_grad()
    def stream(self, frames, speaker=None, final=True):
        """Live synthesis: mouth crops in, audio out as soon as it is known.

        A causal model (``causal: True`` in its architecture) carries its
        recurrent states and convolution contexts from frame to frame
        (:meth:`V2SModel.stream`), so the audio equals the offline
        synthesis of the whole clip, whatever the chunking.

        Arguments
        ---------
        frames : iterable
            Items of one frame or a block of frames: uint8 mouth crops
            (``[96, 96]`` or ``[n, 96, 96]``, centre-cropped and normalised
            like :meth:`prepare_frames`) or already-normalised float crops
            (``[88, 88]``, ``[n, 88, 88]`` or ``[n, 1, 88, 88]``).
        speaker : torch.Tensor, optional
            Speaker ids or embedding, for conditioned models.
        final : bool
            The clip ends with ``frames``: the audio that waited for look-ahead
            is yielded last and the session is reset. ``False`` keeps the
            state, so a later call continues the same stream.

        Yields
        ------
        torch.Tensor
            One float waveform chunk ``[samples]`` per item (24 kHz, 960
            samples per video frame): the frames up to the model's
            ``lookahead_frames`` before the newest (empty while the first
            ones wait), then, with ``final``, the rest.
        """
        model = self.mods.model
        if not getattr(model, "causal", False) or model.output_kind != "wave":
            raise ValueError(
                "stream needs a causal waveform-family model (causal: True)"
            )
        state = getattr(self, "_stream_state", None)
        if state is None:
            state = self._stream_state = {}
        with model.modality(model.default_modality):
            for item in frames:
                x = self._stream_input(item)
                yield model.stream(x, state, speaker)[0].float().cpu()
            if final:
                empty = torch.zeros(1, 0, 1, 1, 1, device=self.device)
                tail = model.stream(empty, state, speaker, final=True)
                self.reset()
                yield tail[0].float().cpu()

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
        speaker = self.speaker_embedding(reference_audio)
        # Decoding and cropping of the next block overlap the model's work on
        # this one; only one window of frames is held at a time.
        blocks = (
            self.prepare_frames(frames)
            for frames in self.mouth_frame_blocks(path, already_cropped)
        )
        return self._synthesize_stream(prefetch_blocks(blocks), speaker)

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

        if self.mods.model.input_kind == "mel":
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
