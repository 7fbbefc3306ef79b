"""A SpeechBrain ``Checkpointer`` that never resumes from a half-written checkpoint.

SpeechBrain writes a checkpoint's ``CKPT.yaml`` first and its parameter files
after; a run killed in between (SIGKILL, pre-emption) leaves a folder that
looks like the newest checkpoint but cannot be loaded, and the restart
crashes. Here a checkpoint counts only once a completion marker has been
written after all its files; incomplete folders are ignored (and reported).

Example
-------
>>> import tempfile, torch
>>> ckpt = SafeCheckpointer(tempfile.mkdtemp(), {"m": torch.nn.Linear(1, 1)})
>>> saved = ckpt.save_checkpoint()
>>> (saved.path / COMPLETE_MARKER).exists(), len(ckpt.list_checkpoints())
(True, 1)
"""

import logging

from speechbrain.utils.checkpoints import Checkpointer

logger = logging.getLogger(__name__)

COMPLETE_MARKER = "COMPLETE"


class SafeCheckpointer(Checkpointer):
    """Drop-in for ``speechbrain.utils.checkpoints.Checkpointer`` (same arguments).

    Example
    -------
    >>> import os, tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> ckpt = SafeCheckpointer(folder, {"m": torch.nn.Linear(1, 1)})
    >>> saved = ckpt.save_checkpoint()
    >>> os.remove(saved.path / COMPLETE_MARKER)  # as if killed while saving
    >>> ckpt.find_checkpoint() is None
    True
    """

    def save_checkpoint(self, *args, **kwargs):
        """Save as SpeechBrain does, then mark the checkpoint complete."""
        checkpoint = super().save_checkpoint(*args, **kwargs)
        if checkpoint is not None:  # main process
            (checkpoint.path / COMPLETE_MARKER).write_text("ok\n")
        return checkpoint

    def _list_checkpoint_dirs(self):
        complete = []
        for folder in super()._list_checkpoint_dirs():
            if (folder / COMPLETE_MARKER).exists():
                complete.append(folder)
            else:
                logger.warning(
                    "Ignoring checkpoint %s: it was not completely written "
                    "(the run was interrupted while saving)",
                    folder,
                )
        return complete
