"""The mel family's vocoder: SpeechBrain's HiFi-GAN generator for our mel.

:class:`MelVocoder` is a ``HifiganGenerator`` configured for
:func:`speechbrain_v2s.audio.features.compute_mel` (80 bins, hop 240, 24 kHz),
so checkpoints are plain SpeechBrain HiFi-GAN generator states. Its ``forward``
keeps SpeechBrain's convention (``[B, 80, T]`` → ``[B, 1, T * 240]``, what the
training loop and the inference interfaces call); :meth:`MelVocoder.mel_to_wave`
takes our ``[B, T, 80]`` layout.

Example
-------
>>> import torch
>>> voc = build_vocoder("tiny")
>>> voc.mel_to_wave(torch.randn(2, 5, 80)).shape
torch.Size([2, 1200])
"""

import math

import torch
from speechbrain.lobes.models.HifiGAN import HifiganGenerator

from speechbrain_v2s.audio.features import HOP_LENGTH, N_MELS
from speechbrain_v2s.nnet.normalization import valid_mask

_MIN_FRAMES = 4

#: Generator settings by size; ``upsample_factors`` multiply to the hop (240).
VOCODER_PRESETS = {
    "paper": {
        "upsample_initial_channel": 512,
        "upsample_factors": (5, 4, 4, 3),
        "upsample_kernel_sizes": (11, 8, 8, 7),
        "resblock_kernel_sizes": (3, 7, 11),
        "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    },
    "tiny": {
        "upsample_initial_channel": 64,
        "upsample_factors": (5, 4, 4, 3),
        "upsample_kernel_sizes": (11, 8, 8, 7),
        "resblock_kernel_sizes": (3,),
        "resblock_dilation_sizes": ((1, 3, 5),),
    },
}


class MelVocoder(HifiganGenerator):
    """HiFi-GAN generator for 80-bin, hop-240, 24 kHz log-mel spectrograms.

    Arguments
    ---------
    upsample_initial_channel : int
        Channels of the first upsampling layer (halved at every layer).
    upsample_factors : tuple of int
        Upsampling strides; their product must be the hop length (240).
    upsample_kernel_sizes : tuple of int
        Transposed-conv kernels (``kernel - factor`` even gives exact lengths).
    resblock_kernel_sizes : tuple of int
        Kernels of the multi-receptive-field residual blocks.
    resblock_dilation_sizes : tuple of tuple of int
        Dilations of each residual block (3 per block for type ``"1"``, 2 for
        type ``"2"``).
    resblock_type : str
        SpeechBrain's residual block type, ``"1"`` or ``"2"``.
    n_mels : int
        Input mel bins.

    Example
    -------
    >>> import torch
    >>> voc = MelVocoder(upsample_initial_channel=32, resblock_kernel_sizes=(3,),
    ...                  resblock_dilation_sizes=((1, 3, 5),))
    >>> voc(torch.randn(1, 80, 4)).shape
    torch.Size([1, 1, 960])
    """

    def __init__(
        self,
        upsample_initial_channel=512,
        upsample_factors=(5, 4, 4, 3),
        upsample_kernel_sizes=(11, 8, 8, 7),
        resblock_kernel_sizes=(3, 7, 11),
        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        resblock_type="1",
        n_mels=N_MELS,
    ):
        if math.prod(upsample_factors) != HOP_LENGTH:
            raise ValueError(
                f"upsample_factors {tuple(upsample_factors)} multiply to "
                f"{math.prod(upsample_factors)}, not the hop length {HOP_LENGTH}"
            )
        for factor, kernel in zip(upsample_factors, upsample_kernel_sizes):
            if (kernel - factor) % 2:
                raise ValueError(
                    f"upsample kernel {kernel} for factor {factor}: kernel - factor "
                    "must be even for output length = frames x hop"
                )
        super().__init__(
            in_channels=n_mels,
            out_channels=1,
            resblock_type=str(resblock_type),
            resblock_dilation_sizes=[list(d) for d in resblock_dilation_sizes],
            resblock_kernel_sizes=list(resblock_kernel_sizes),
            upsample_kernel_sizes=list(upsample_kernel_sizes),
            upsample_initial_channel=upsample_initial_channel,
            upsample_factors=list(upsample_factors),
        )
        self.hop_length = HOP_LENGTH

    def mel_to_wave(self, mel, lens=None):
        """Log-mel ``[B, T, 80]`` → waveform ``[B, T * 240]`` (padding zeroed).

        Arguments
        ---------
        mel : torch.Tensor
            ``[B, T, n_mels]`` log-mel (as from ``compute_mel``).
        lens : torch.Tensor, optional
            ``[B]`` relative lengths.
        """
        frames = mel.shape[1]
        short = max(0, _MIN_FRAMES - frames)
        if short:
            # SpeechBrain's "same" convolutions reflect-pad by 3 frames.
            mel = torch.nn.functional.pad(
                mel.transpose(1, 2), (0, short), mode="replicate"
            ).transpose(1, 2)
        wave = self(mel.transpose(1, 2)).squeeze(1)[:, : frames * self.hop_length]
        mask = valid_mask(lens, wave.shape[1], self.hop_length)
        return wave if mask is None else wave * mask.to(wave.dtype)


def build_vocoder(size="paper", **overrides):
    """A :class:`MelVocoder` from a preset (``"paper"`` or ``"tiny"``).

    Arguments
    ---------
    size : str
        Key of :data:`VOCODER_PRESETS`.
    **overrides
        Any :class:`MelVocoder` argument, replacing the preset's.

    Example
    -------
    >>> build_vocoder("tiny", upsample_initial_channel=32).ups[0].conv.out_channels
    16
    """
    if size not in VOCODER_PRESETS:
        raise ValueError(f"vocoder size {size!r} is not one of {list(VOCODER_PRESETS)}")
    return MelVocoder(**{**VOCODER_PRESETS[size], **overrides})
