"""Generate ``custom_interface.py``: the package's model code in one file.

An exported model must also load where only SpeechBrain is installed, through
``speechbrain.inference.interfaces.foreign_class(source,
pymodule_file="custom_interface.py", classname="VideoToSpeech")``. The file is
built from this package's own modules at export time (never a hand-kept
copy): their sources are concatenated in dependency order and imports between
them removed, so every name resolves inside the one file.

Example
-------
>>> code = build_standalone_source()
>>> "class VideoToSpeech" in code and "import speechbrain_v2s" not in code
True
"""

import ast
import importlib
import inspect

#: Bundled modules, dependencies first. The video front end (face landmarks,
#: OpenCV) is not bundled: stand-alone users give mouth crops or ``.npz`` files.
BUNDLED_MODULES = (
    "speechbrain_v2s.errors",
    "speechbrain_v2s.atomic",
    "speechbrain_v2s.audio.features",
    "speechbrain_v2s.audio.io",
    "speechbrain_v2s.video.frames",
    "speechbrain_v2s.nnet.weights",
    "speechbrain_v2s.nnet.normalization",
    "speechbrain_v2s.nnet.encoders",
    "speechbrain_v2s.nnet.temporal",
    "speechbrain_v2s.nnet.decoders",
    "speechbrain_v2s.nnet.speaker",
    "speechbrain_v2s.nnet.vocoder",
    "speechbrain_v2s.nnet.model",
    "speechbrain_v2s.inference",
)
PACKAGE = "speechbrain_v2s"
FOOTER = """

# ======================================================================
# Without the package installed, make "speechbrain_v2s.<module>" names (used
# by hyperparams.yaml) resolve to this file, so one YAML serves both ways.
def _alias_package(bundled):
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("{package}") is not None:
        return
    this = sys.modules.get(__name__)
    if this is None:  # executed from a path (SpeechBrain's foreign_class)
        this = types.ModuleType(__name__)
        this.__dict__.update(globals())
    for name in bundled:
        parts = name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent not in sys.modules:
                sys.modules[parent] = types.ModuleType(parent)
            if depth > 1:
                setattr(sys.modules[".".join(parts[: depth - 1])], parts[depth - 1],
                        sys.modules[parent])
        sys.modules[name] = this
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], this)


_alias_package({modules!r})
"""
HEADER = '''"""Stand-alone speechbrain-v2s interface (generated; do not edit).

Built by speechbrain_v2s.standalone from the package's modules:
{modules}

Load with SpeechBrain alone:
    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source, pymodule_file="custom_interface.py",
                          classname="VideoToSpeech")
"""
'''


def _strip_internal_imports(source, bundled, module_name):
    """Remove ``from speechbrain_v2s.X import ...`` of bundled modules.

    Imports inside functions become ``pass`` so bodies stay valid; imports of
    modules that are not bundled stay (they fail clearly if ever reached).
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
            if node.module not in bundled:
                continue
            edits.append((node.lineno, node.end_lineno, node.col_offset))
        elif isinstance(node, ast.Import) and any(
            alias.name.startswith(PACKAGE) for alias in node.names
        ):
            raise ValueError(
                f"{module_name}: 'import {PACKAGE}...' cannot be bundled; "
                "use 'from ... import name'"
            )
    for start, end, col in sorted(edits, reverse=True):
        lines[start - 1 : end] = [" " * col + "pass  # bundled import\n"]
    return "".join(lines)


def _top_level_names(source):
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def build_standalone_source(modules=BUNDLED_MODULES):
    """The text of ``custom_interface.py``.

    Raises
    ------
    ValueError
        Two bundled modules define the same top-level function or class (the
        second would silently replace the first).

    Example
    -------
    >>> code = build_standalone_source(
    ...     ("speechbrain_v2s.audio.features", "speechbrain_v2s.audio.io")
    ... )
    >>> "def compute_mel" in code, "def load_audio" in code
    (True, True)
    >>> "from speechbrain_v2s.audio.features import" in code  # import stripped
    False
    >>> twice = ("speechbrain_v2s.hub_card",) * 2
    >>> build_standalone_source(twice)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: speechbrain_v2s.hub_card and speechbrain_v2s.hub_card both define ...
    """
    seen = {}
    parts = [HEADER.format(modules="\n".join(f"    {m}" for m in modules))]
    future = []
    for name in modules:
        source = inspect.getsource(importlib.import_module(name))
        for top in _top_level_names(source):
            if top in seen:
                raise ValueError(
                    f"{name} and {seen[top]} both define {top!r}: rename one "
                    "before bundling"
                )
            seen[top] = name
        body = _strip_internal_imports(source, set(modules), name)
        parts.append(f"\n# {'=' * 70}\n# {name}\n# {'=' * 70}\n{body}")
    parts.append(FOOTER.format(package=PACKAGE, modules=tuple(modules)))
    code = "".join(future + parts)
    compile(code, "custom_interface.py", "exec")  # fail at export, not at load
    return code


def write_standalone(path, modules=BUNDLED_MODULES):
    """Write ``custom_interface.py`` to ``path``.

    Example
    -------
    >>> import os, runpy, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "custom_interface.py")
    >>> write_standalone(path, ("speechbrain_v2s.audio.features",))
    >>> namespace = runpy.run_path(path)  # runs on its own, as foreign_class does
    >>> namespace["SAMPLE_RATE"], callable(namespace["compute_mel"])
    (24000, True)
    """
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(build_standalone_source(modules))
