"""The Gradio page of ``v2s-app``: one video in, speech out.

The page holds a model chooser (when several models are served), the video
(upload or webcam), a "mouth crop" switch for videos that are already crops
(the built-in synthetic corpus), and, after a run: the status line, the
mouth crops the model saw, the speech, the wav and the muxed video to
download, and the mel spectrogram. A bad upload is one line in the status,
never a stack trace.
"""

import logging
import os
import tempfile
import threading

from speechbrain_v2s.app.core import MAX_SECONDS, UploadError, process_video

logger = logging.getLogger(__name__)

TITLE = "SpeechBrain V2S: speech from silent video"


class ModelShelf:
    """Models by name, loaded on first use and kept (one lock: a model is
    loaded once even when two requests ask for it together).

    Example
    -------
    >>> shelf = ModelShelf({"demo": "/no/such/folder"})
    >>> shelf.names
    ['demo']
    """

    def __init__(self, sources, savedir=None, device="cpu"):
        self.sources = dict(sources)
        self.savedir, self.device = savedir, device
        self.loaded, self.lock = {}, threading.Lock()

    @property
    def names(self):
        """Model names, in the order given."""
        return list(self.sources)

    def get(self, name):
        """The :class:`VideoToSpeech` called ``name`` (loaded now if needed)."""
        from speechbrain_v2s.inference import VideoToSpeech

        with self.lock:
            if name not in self.loaded:
                source = self.sources[name]
                savedir = self.savedir
                if savedir is None and not os.path.isdir(source):
                    savedir = os.path.join(
                        tempfile.gettempdir(), "v2s-app", source.replace("/", "--")
                    )
                self.loaded[name] = VideoToSpeech.from_hparams(
                    source=source, savedir=savedir, run_opts={"device": self.device}
                )
            return self.loaded[name]


def model_names(sources):
    """Unique display names for model sources: the folder's (or Hub id's)
    last part, the full source where two share it.

    Example
    -------
    >>> model_names(["runs/a/model", "user/v2s-grid", "runs/b/model"])
    ['runs/a/model', 'v2s-grid', 'runs/b/model']
    """
    tails = [os.path.basename(os.path.normpath(s)) or s for s in sources]
    return [s if tails.count(t) > 1 else t for s, t in zip(sources, tails)]


def build_app(shelf, cropped=False, max_seconds=MAX_SECONDS, out_root=None):
    """The ``gradio.Blocks`` page serving ``shelf``'s models.

    ``cropped`` is the initial state of the "already a mouth crop" switch;
    outputs of each request go to a fresh folder under ``out_root`` (the
    system's temporary folder by default).
    """
    import gradio as gr

    out_root = out_root or tempfile.gettempdir()
    empty = (None, None, None, None, None)

    def run(video, name, already_cropped, progress):
        if not video:
            return ("**Error:** no video: upload one or record one",) + empty
        try:
            model = shelf.get(name)
        except Exception as err:  # a broken model folder: one line
            logger.exception("cannot load model %s", name)
            return (f"**Error:** cannot load model {name}: {err}",) + empty
        out_dir = tempfile.mkdtemp(prefix="v2s-app-", dir=out_root)
        try:
            result = process_video(
                model,
                video,
                out_dir,
                max_seconds,
                already_cropped,
                progress=lambda f, text: progress(f, desc=text),
            )
        except UploadError as err:
            hint = ""
            if "no face" in str(err) and not already_cropped:
                hint = " (if the video is already a mouth crop, tick the box)"
            return (f"**Error:** {err}{hint}",) + empty
        except Exception as err:  # never a stack trace in the page
            logger.exception("synthesis failed for %s", video)
            return (f"**Error:** synthesis failed: {err}",) + empty
        return (
            result.message,
            result.preview,
            result.wav_path,
            [result.wav_path, result.video_path],
            result.mel_figure,
            result.video_path,
        )

    # Gradio finds the progress bar by the default value gr.Progress().
    def run_upload(upload, name, already_cropped, progress=gr.Progress()):  # noqa: B008
        return run(upload, name, already_cropped, progress)

    def run_webcam(
        recording, name, already_cropped, progress=gr.Progress()  # noqa: B008
    ):
        if not recording:  # the recording was cleared
            return ("Upload a video or record one.",) + empty
        return run(recording, name, already_cropped, progress)

    def run_either(
        upload, recording, name, already_cropped, progress=gr.Progress()  # noqa: B008
    ):
        return run(upload or recording, name, already_cropped, progress)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        gr.Markdown(
            f"# {TITLE}\nUpload a talking-face video (or record one): the model "
            "reads the lips and speaks. The mouth crops show what it saw."
        )
        with gr.Row():
            with gr.Column():
                chooser = gr.Dropdown(
                    shelf.names,
                    value=shelf.names[0],
                    label="Model",
                    visible=len(shelf.names) > 1,
                    elem_id="model",
                )
                with gr.Tabs():
                    with gr.Tab("Upload"):
                        # A file box, not a video box: any file reaches the
                        # server, so a wrong one gets our message, and videos
                        # browsers cannot play (GRID's .mpg) are taken too.
                        upload = gr.File(
                            label="Silent video (mp4, mpg, avi, mov, mkv, webm)",
                            type="filepath",
                            elem_id="video-in",
                        )
                    with gr.Tab("Webcam"):
                        # Not mirrored, sound kept: Gradio would run a system
                        # FFmpeg to flip or mute the recording (our readers
                        # ignore its sound; the mux replaces it).
                        webcam = gr.Video(
                            sources=["webcam"],
                            webcam_options=gr.WebcamOptions(mirror=False),
                            include_audio=True,
                            label="Record yourself",
                            elem_id="webcam",
                        )
                cropped_box = gr.Checkbox(
                    value=cropped,
                    elem_id="cropped",
                    label="The video is already a mouth crop (as in the "
                    "built-in synthetic corpus)",
                )
                button = gr.Button(
                    "Generate speech", variant="primary", elem_id="generate"
                )
                muxed = gr.Video(
                    label="Video with the speech",
                    elem_id="video-out",
                    interactive=False,
                    height=260,
                )
            with gr.Column():
                status = gr.Markdown("Upload a video or record one.", elem_id="status")
                preview = gr.Image(
                    label="Mouth crops the model saw",
                    elem_id="preview",
                    interactive=False,
                )
                audio = gr.Audio(
                    label="Generated speech",
                    type="filepath",
                    elem_id="speech",
                    interactive=False,
                )
                files = gr.File(
                    label="Downloads: wav and video with speech",
                    file_count="multiple",
                    elem_id="downloads",
                    interactive=False,
                )
        mel = gr.Plot(label="Mel spectrogram", elem_id="mel")
        outputs = [status, preview, audio, files, mel, muxed]
        options = [chooser, cropped_box]
        upload.upload(run_upload, [upload] + options, outputs)
        webcam.change(run_webcam, [webcam] + options, outputs)
        button.click(run_either, [upload, webcam] + options, outputs)
    return page


def build_demo(
    sources, cropped=False, savedir=None, device="cpu", max_seconds=MAX_SECONDS
):
    """The page for model folders or Hub ids ``sources`` (named by
    :func:`model_names`); what ``v2s-app`` and a Space's ``app.py`` serve.
    The page's :class:`ModelShelf` is ``page.v2s_shelf``."""
    shelf = ModelShelf(dict(zip(model_names(sources), sources)), savedir, device)
    page = build_app(shelf, cropped=cropped, max_seconds=max_seconds)
    page.v2s_shelf = shelf
    return page
