"""The vocoder ceiling of the mel family: each reference's own mel through a
model folder's mel-to-wave path, written as a system to score like any other.
"""

import logging
import os

from speechbrain_v2s.audio.features import SAMPLE_RATE
from speechbrain_v2s.audio.io import AudioReadError, load_audio
from speechbrain_v2s.evaluation.errors import EvaluationError

logger = logging.getLogger(__name__)


def load_synthesizer(source, savedir=None, device=None):
    """A model folder or Hub id, loaded as a V2A model
    (:class:`~speechbrain_v2s.inference.VideoToSpeech`) or, when it has no
    ROI statistics, an A2A one (:class:`~speechbrain_v2s.inference.AudioToAudio`):
    both give the folder's mel-to-wave path (``vocode``), on ``device``
    (default: the CPU).

    Raises
    ------
    EvaluationError
        A model that does not load (with the reason).

    Example
    -------
    >>> load_synthesizer("/no/such/model")
    Traceback (most recent call last):
    ...
    speechbrain_v2s.evaluation.EvaluationError: model folder not found: /no/such/model
    """
    from speechbrain_v2s.inference import AudioToAudio, VideoToSpeech

    source = str(source)
    local = os.path.isabs(source) or source.startswith((".", "~"))
    if (local or source.count("/") > 1) and not os.path.isdir(source):
        raise EvaluationError(f"model folder not found: {source}")
    kwargs = {"source": source, "savedir": savedir}
    if device:
        kwargs["run_opts"] = {"device": device}
    try:
        try:
            return VideoToSpeech.from_hparams(**kwargs)
        except ValueError as err:  # no roi_mean/roi_std: an A2A folder
            if "Need hparams" not in str(err):
                raise
            return AudioToAudio.from_hparams(**kwargs)
    except Exception as err:  # noqa: BLE001 - any failure: one clear message
        raise EvaluationError(
            f"cannot load model {source!r}: {type(err).__name__}: {err}"
        ) from err


def write_vocoder_ceiling(
    model, references, out_dir, savedir=None, overwrite=False, device=None
):
    """The mel family's ceiling as a system: ``<out_dir>/<id>.wav`` for each
    reference, its mel (:func:`compute_mel`, the models' training target)
    through the model folder's own mel-to-wave path (its vocoder, or
    Griffin-Lim when it ships none).

    Scored against the real audio, this row says how much of a mel model's
    distance to the ground truth the vocoder alone costs: a model that
    predicted the reference mel exactly would score this.

    Arguments
    ---------
    model : str or speechbrain_v2s.inference.VideoToSpeech
        Mel-family model folder / Hub id, or a loaded interface
        (``AudioToAudio`` too).
    references : dict
        ``{id: reference audio path}``
        (:func:`~speechbrain_v2s.evaluation.reference_files`).
    out_dir : str
        Output folder; ids with ``/`` become subfolders.
    savedir : str, optional
        Where ``from_hparams`` puts the model when ``model`` is a source.
    overwrite : bool
        Re-vocode files that exist (default: keep them, so re-runs are cheap).
    device : str, optional
        Torch device ``model`` is loaded on when it is a source.

    Returns
    -------
    str
        The row's name, ``"ground truth (mel + <vocoder>)"``.

    Raises
    ------
    EvaluationError
        A model that does not load or outputs waveforms (no vocoder gap).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain_v2s.audio.io import write_audio
    >>> from speechbrain_v2s.evaluation import reference_files
    >>> from speechbrain_v2s.export import export_architecture
    >>> from speechbrain_v2s.inference import VideoToSpeech
    >>> root = tempfile.mkdtemp()
    >>> repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    >>> arch = os.path.join(repo, "hparams", "tiny_mel.yaml")
    >>> _ = export_architecture(arch, os.path.join(root, "model"))
    >>> v2s = VideoToSpeech.from_hparams(source=os.path.join(root, "model"),
    ...                                  savedir=os.path.join(root, "model"))
    >>> del v2s.mods["vocoder"]  # Griffin-Lim, as in a folder without one
    >>> write_audio(os.path.join(root, "ref", "u1.wav"), torch.randn(4800) * 0.1)
    >>> refs = reference_files(ref_dir=os.path.join(root, "ref"))
    >>> write_vocoder_ceiling(v2s, refs, os.path.join(root, "ceiling"))
    'ground truth (mel + Griffin-Lim)'
    >>> os.listdir(os.path.join(root, "ceiling"))
    ['u1.wav']
    """
    from speechbrain_v2s.audio.io import write_audio

    if isinstance(model, str | os.PathLike):
        model = load_synthesizer(model, savedir, device)
    try:
        name = f"ground truth (mel + {model.vocoder_name})"
    except ValueError as err:
        raise EvaluationError(f"no vocoder ceiling: {err}") from err
    for key, ref in references.items():
        path = os.path.join(out_dir, f"{key}.wav")
        if os.path.isfile(path) and not overwrite:
            continue
        try:
            wav = load_audio(ref, SAMPLE_RATE)
        except AudioReadError as err:
            # Left out: the evaluation reports the missing file as its row.
            logger.warning("vocoder ceiling: %s", err)
            continue
        write_audio(path, model.vocode_audio(wav), SAMPLE_RATE)
    return name
