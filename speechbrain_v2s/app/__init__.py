"""The web demo: ``v2s-app`` (a Gradio page over :class:`VideoToSpeech`) and
``v2s-space`` (a Hugging Face Space folder serving an exported model).

:mod:`.core` does the work without Gradio (checks, mouth-crop preview, speech,
mux, mel picture); :mod:`.ui` draws the page; :mod:`.space` writes Spaces.
Gradio is imported only by :mod:`.ui`, so the rest runs without the ``app``
extra.
"""
