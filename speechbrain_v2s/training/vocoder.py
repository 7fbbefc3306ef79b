"""Train the mel family's vocoder with the same GAN loop as the waveform models.

:class:`VocoderModel` gives a mel→waveform generator the interface
:class:`~speechbrain_v2s.training.brain.V2SBrain` drives (``forward(x, lens)``
returning ``(out, out_lens)``, ``modality``, ``save_pretrained_decoder``), so
vocoder training is the A2A GAN recipe with a fixed "encoder" (our mel
function) instead of a second training loop.
"""

import contextlib

import torch

from speechbrain_v2s.audio.features import compute_mel


class VocoderModel(torch.nn.Module):
    """Waveform in → its log-mel (:func:`compute_mel`) → ``vocoder`` → waveform.

    Arguments
    ---------
    vocoder : torch.nn.Module
        Mel ``[B, 80, T]`` → waveform ``[B, 1, T * 240]`` (SpeechBrain's
        ``HifiganGenerator`` convention).

    Example
    -------
    >>> class Upsample(torch.nn.Module):
    ...     def forward(self, mel):
    ...         return mel.mean(1, keepdim=True).repeat_interleave(240, -1)
    >>> model = VocoderModel(Upsample())
    >>> out, lens = model(torch.zeros(2, 4800), torch.ones(2))
    >>> out.shape
    torch.Size([2, 4800])
    """

    default_modality = "audio"
    output_kind = "wave"
    encoder = None

    def __init__(self, vocoder):
        super().__init__()
        self.decoder = vocoder

    @contextlib.contextmanager
    def modality(self, name):
        """No cross-modal state in a vocoder: a no-op context."""
        yield self

    def forward(self, x, lens=None, speaker=None):
        """Resynthesise waveform ``x`` (``[B, S]``) from its mel."""
        mel = compute_mel(x).transpose(1, 2)
        wave = self.decoder(mel).squeeze(1)
        return wave[:, : x.shape[1]], lens

    def save_pretrained_decoder(self, path):
        """Write the generator's weights (loaded by the mel-family interfaces)."""
        torch.save({"vocoder": self.decoder.state_dict()}, path)
