"""Train the mel family's vocoder with the same GAN loop as the waveform models.

:class:`VocoderModel` is a waveform-to-waveform model (it declares
``input_kind`` and ``output_kind`` ``"wave"``) that
:class:`~speechbrain_v2s.training.brain.V2SBrain` trains like an A2A waveform
model: its fixed "encoder" is our mel function, its decoder the mel→waveform
generator, so vocoder training is the A2A GAN recipe, not a second loop.
"""

import torch

from speechbrain_v2s.audio.features import compute_mel


class VocoderModel(torch.nn.Module):
    """Waveform in → its log-mel (:func:`compute_mel`) → ``vocoder`` → waveform.

    Arguments
    ---------
    vocoder : torch.nn.Module
        Mel ``[B, 80, T]`` → waveform ``[B, 1, T * 240]`` (SpeechBrain's
        ``HifiganGenerator`` convention); held as ``decoder``, so the Brain
        gives it the decoder's learning rate and the export finds it there.

    Example
    -------
    >>> class Upsample(torch.nn.Module):
    ...     def forward(self, mel):
    ...         return mel.mean(1, keepdim=True).repeat_interleave(240, -1)
    >>> model = VocoderModel(Upsample())
    >>> out, lens = model(torch.zeros(2, 4800), torch.ones(2))
    >>> out.shape, model.input_kind, model.output_kind
    (torch.Size([2, 4800]), 'wave', 'wave')
    """

    input_kind = "wave"
    output_kind = "wave"
    # Trained on audio; no cross-modal batch norm to switch.
    default_modality = "audio"

    def __init__(self, vocoder):
        super().__init__()
        self.decoder = vocoder

    def forward(self, x, lens=None, speaker=None):
        """Resynthesise waveform ``x`` (``[B, S]``) from its mel."""
        mel = compute_mel(x).transpose(1, 2)
        wave = self.decoder(mel).squeeze(1)
        return wave[:, : x.shape[1]], lens

    def save_pretrained(self, path):
        """Write the generator's weights (``vocoder.ckpt``, which the mel
        family's exports and interfaces load)."""
        torch.save({"vocoder": self.decoder.state_dict()}, path)
