"""What the web demo does with one upload, without Gradio.

:func:`process_video` checks the file (a video, not too long), finds the
mouth (the crops are what the model sees, shown as a preview), synthesises
the speech with :meth:`VideoToSpeech.synthesize_file`, muxes it into the
video and draws its mel spectrogram. Every problem with the upload is an
:class:`UploadError` whose text is one line for the page.
"""

import os
from dataclasses import dataclass

import numpy as np

from speechbrain_v2s.audio.features import SAMPLE_RATE, SAMPLES_PER_FRAME
from speechbrain_v2s.errors import FileError

#: Longest video the demo takes by default (seconds): synthesis on a CPU
#: Space runs at a few times real time, and a request should end in minutes.
MAX_SECONDS = 60.0


class UploadError(Exception):
    """An upload the demo cannot use; ``str()`` is the line shown in the page.

    Example
    -------
    >>> str(UploadError("notes.txt: not a video this demo can read"))
    'notes.txt: not a video this demo can read'
    """


@dataclass
class Result:
    """What one upload produced (paths under the request's folder)."""

    frames: int
    wav_path: str
    video_path: str
    preview: np.ndarray
    mel_figure: object
    message: str


def video_length(path):
    """``(frames, fps)`` from the container's header, ``None`` when OpenCV
    cannot open ``path`` as a video; ``frames`` is 0 when the header has no
    count (some WebM recordings).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_v2s.video.io import write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "v.mp4")
    >>> write_video(path, np.zeros((10, 16, 16), np.uint8), fps=25)
    >>> video_length(path)
    (10, 25.0)
    >>> video_length(__file__) is None
    True
    """
    import cv2

    from speechbrain_v2s.video.io import open_capture

    capture = open_capture(path)
    try:
        if not capture.isOpened():
            return None
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if fps <= 0 and frames <= 0 and not capture.grab():
            return None  # opened, but nothing decodes (e.g. a text file)
    finally:
        capture.release()
    return max(frames, 0), fps


def check_upload(path, max_seconds=MAX_SECONDS):
    """Raise :class:`UploadError` for a missing file, one that is not a
    video, or one longer than ``max_seconds`` (by its header).

    Example
    -------
    >>> check_upload(__file__)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_v2s.app.core.UploadError: core.py: not a video this demo can read
    """
    name = os.path.basename(str(path))
    if not path or not os.path.isfile(str(path)):
        raise UploadError("no video: upload one or record one with the webcam")
    length = video_length(str(path))
    if length is None:
        raise UploadError(f"{name}: not a video this demo can read")
    frames, fps = length
    if frames > 0 and fps > 0 and frames / fps > max_seconds:
        raise UploadError(
            f"{name}: {frames / fps:.0f} s is too long for this demo "
            f"(at most {max_seconds:.0f} s)"
        )


def mouth_preview(crops, count=8):
    """``count`` crops evenly spread over the video, side by side: one uint8
    image ``[H, count * W]`` (fewer when the video is shorter).

    Example
    -------
    >>> crops = np.arange(10, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)
    >>> image = mouth_preview(crops, count=3)
    >>> image.shape, image[0, ::4].tolist()
    ((4, 12), [0, 4, 9])
    """
    picks = np.linspace(0, len(crops) - 1, min(count, len(crops))).round().astype(int)
    return np.concatenate([crops[i] for i in picks], axis=1)


def mel_figure(wav):
    """A matplotlib figure of the log-mel spectrogram of ``wav`` (24 kHz),
    time in seconds across, mel bins up.

    Example
    -------
    >>> import torch
    >>> figure = mel_figure(torch.zeros(2400))
    >>> figure.axes[0].get_xlabel()
    'time (s)'
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure

    from speechbrain_v2s.audio.features import compute_mel

    mel = compute_mel(wav.reshape(1, -1).float())[0].T.numpy()
    seconds = wav.numel() / SAMPLE_RATE
    figure = Figure(figsize=(8, 2.6), layout="constrained")
    axis = figure.add_subplot()
    image = axis.imshow(
        mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0])
    )
    figure.colorbar(image, ax=axis, label="log mel")
    axis.set_xlabel("time (s)")
    axis.set_ylabel("mel bin")
    axis.set_title("Generated speech")
    return figure


def _write_wav(path, wav):
    import soundfile

    samples = wav.detach().float().cpu().reshape(-1).clamp(-1, 1).numpy()
    soundfile.write(path, samples, SAMPLE_RATE, "PCM_16")


def process_video(
    model, path, out_dir, max_seconds=MAX_SECONDS, already_cropped=False, progress=None
):
    """One upload → :class:`Result` (speech wav, muxed mp4, preview, mel).

    ``model`` is a loaded :class:`VideoToSpeech`; ``already_cropped`` says
    the video is mouth crops (no face to find); ``progress(fraction, text)``,
    when given, is called between the stages. Problems with the
    upload raise :class:`UploadError`; anything else (a broken model) is
    left to the caller.
    """
    from speechbrain_v2s.video.io import mux_audio
    from speechbrain_v2s.video.mouth_roi import save_roi

    def step(fraction, text):
        if progress is not None:
            progress(fraction, text)

    path = str(path)
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0] or "video"
    step(0.0, "Checking the video")
    check_upload(path, max_seconds)
    step(0.05, "Finding the face and the mouth")
    try:
        crops = model.mouth_frames(path, already_cropped=already_cropped)
    except (FileError, ValueError) as err:  # no face, undecodable frames
        reason = getattr(err, "reason", None) or str(err)
        raise UploadError(f"{name}: {reason}") from err
    if len(crops) > max_seconds * 25:  # a header without a frame count
        raise UploadError(
            f"{name}: {len(crops) / 25:.0f} s is too long for this demo "
            f"(at most {max_seconds:.0f} s)"
        )
    os.makedirs(out_dir, exist_ok=True)
    # The crops found once feed the model through its .npz cache path, so the
    # face is not searched for twice.
    cache = os.path.join(out_dir, f"{stem}_mouth.npz")
    save_roi(cache, crops)
    step(0.5, "Synthesising speech")
    wav = model.synthesize_file(cache)
    wav_path = os.path.join(out_dir, f"{stem}_speech.wav")
    _write_wav(wav_path, wav)
    step(0.8, "Muxing the speech into the video")
    video_path = os.path.join(out_dir, f"{stem}_with_speech.mp4")
    mux_audio(path, wav.numpy(), SAMPLE_RATE, video_path)
    step(0.9, "Drawing the mel spectrogram")
    frames = wav.numel() // SAMPLES_PER_FRAME
    message = (
        f"**{name}**: {len(crops)} frames, {wav.numel() / SAMPLE_RATE:.2f} s "
        f"of speech ({model.mods.model.output_kind} model)"
    )
    return Result(
        frames, wav_path, video_path, mouth_preview(crops), mel_figure(wav), message
    )
