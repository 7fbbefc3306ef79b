"""Generate ``custom_interface.py``: the package's inference code in one file.

An exported model must also load without this package, through
``speechbrain.inference.interfaces.foreign_class(source,
pymodule_file="custom_interface.py", classname="VideoToSpeech")``. The file is
built from this package's own modules at export time (never a hand-kept
copy), in two ways:

- :data:`BUNDLED_MODULES` (the models and the interfaces: torch,
  SpeechBrain and safetensors) are concatenated in dependency order and
  imports between them removed, so every name resolves inside the one file;
- :data:`EMBEDDED_MODULES` (the video front end: OpenCV, face landmarks) are
  carried as their sources and imported, each as its own module, only when a
  method needs them (:meth:`VideoToSpeech.synthesize_file`), so
  ``synthesize_batch`` needs no OpenCV.

Every import of the package that any of these modules makes is checked to be
bundled or embedded when the file is built, so a method cannot fail later
with ``No module named 'speechbrain_v2s...'``.

Example
-------
>>> code = build_standalone_source()
>>> "class VideoToSpeech" in code and "import speechbrain_v2s" not in code
True
"""

import ast
import importlib
import inspect

#: Concatenated modules, dependencies first.
BUNDLED_MODULES = (
    "speechbrain_v2s.errors",
    "speechbrain_v2s.atomic",
    "speechbrain_v2s.audio.features",
    "speechbrain_v2s.audio.io",
    "speechbrain_v2s.video.frames",
    "speechbrain_v2s.nnet.weights",
    "speechbrain_v2s.nnet.normalization",
    "speechbrain_v2s.nnet.causal",
    "speechbrain_v2s.nnet.encoders",
    "speechbrain_v2s.nnet.temporal",
    "speechbrain_v2s.nnet.decoders",
    "speechbrain_v2s.nnet.speaker",
    "speechbrain_v2s.nnet.vocoder",
    "speechbrain_v2s.nnet.model",
    "speechbrain_v2s.inference",
)
#: Modules carried as source and imported on first use: the video front end
#: (decoding, face landmarks, mouth crops) for ``synthesize_file``, and the
#: audio trimming of ``AudioToAudio.resynthesize_file``. The face detectors'
#: model files are not in this package: dlib's 68-point model comes from the
#: ``face-recognition-models`` wheel, the Haar cascades from OpenCV's.
EMBEDDED_MODULES = (
    "speechbrain_v2s.video",
    "speechbrain_v2s.video.errors",
    "speechbrain_v2s.video.timing",
    "speechbrain_v2s.video.mux",
    "speechbrain_v2s.video.io",
    "speechbrain_v2s.video.face",
    "speechbrain_v2s.video.dlib_detector",
    "speechbrain_v2s.video.haar_detector",
    "speechbrain_v2s.video.landmarks",
    "speechbrain_v2s.video.mouth_roi",
    "speechbrain_v2s.video.stream",
    "speechbrain_v2s.data",
    "speechbrain_v2s.data.pipelines",
)
PACKAGE = "speechbrain_v2s"
FOOTER = """

# ======================================================================
# Without the package installed, make "@PACKAGE@.<module>" names resolve: the
# bundled ones to this file (hyperparams.yaml names them, so one YAML serves
# both ways), the embedded ones to their sources above, imported on first use.
def _alias_package(bundled, embedded):
    import importlib
    import importlib.abc
    import importlib.machinery
    import importlib.util
    import linecache
    import sys
    import types

    package = sys.modules.get("@PACKAGE@")
    if package is None:
        if importlib.util.find_spec("@PACKAGE@") is not None:
            return  # installed: its own modules serve
    elif not getattr(package, "_v2s_standalone", False):
        return  # imported already
    this = sys.modules.get(__name__)
    if this is None:  # executed from a path (SpeechBrain's foreign_class)
        this = types.ModuleType(__name__)
        this.__dict__.update(globals())

    class EmbeddedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        _v2s_standalone = True

        def find_spec(self, fullname, path=None, target=None):
            if fullname not in embedded:
                return None
            is_package = embedded[fullname][0]
            return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            source = embedded[module.__name__][1]
            filename = f"custom_interface.py <{module.__name__}>"
            # tracebacks show the embedded lines
            linecache.cache[filename] = (len(source), None, source.splitlines(True),
                                         filename)
            exec(compile(source, filename, "exec"), module.__dict__)

    # a second load of this file replaces the first one's finder
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "_v2s_standalone", False)]
    sys.meta_path.append(EmbeddedModules())
    for name in bundled:
        parts = name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent in sys.modules:
                continue
            if parent in embedded:
                importlib.import_module(parent)
                continue
            stub = types.ModuleType(parent)
            # a package, so that the finder above is asked for its submodules
            stub.__path__ = []
            stub.__spec__ = importlib.machinery.ModuleSpec(parent, None,
                                                           is_package=True)
            stub._v2s_standalone = True
            sys.modules[parent] = stub
            if depth > 1:
                setattr(sys.modules[".".join(parts[: depth - 1])], parts[depth - 1],
                        stub)
        sys.modules[name] = this
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], this)


_alias_package(_V2S_BUNDLED, _V2S_EMBEDDED)
"""
HEADER = '''"""Stand-alone speechbrain-v2s interface (generated; do not edit).

Built by speechbrain_v2s.standalone from the package's modules:
{modules}
and, imported on first use (the video front end needs OpenCV; face videos
also dlib-bin and face-recognition-models, else OpenCV's Haar detector):
{embedded}

Load with SpeechBrain and safetensors (the weights' format) installed:
    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source, pymodule_file="custom_interface.py",
                          classname="VideoToSpeech")
"""
'''


def _package_imports(source, module_name, is_package):
    """``(node, imported module)`` for each import of the package in ``source``
    (function bodies included, relative imports resolved)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names if a.name.startswith(PACKAGE)]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module_name.split(".")
                base = base[: len(base) - node.level + bool(is_package)]
                target = ".".join(base + ([target] if target else []))
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append((node, target))
    return found


def _strip_internal_imports(source, bundled, module_name):
    """Remove ``from speechbrain_v2s.X import ...`` of bundled modules.

    Imports inside functions become ``pass`` so bodies stay valid; imports of
    modules that are not bundled stay (embedded ones resolve at run time).
    """
    lines = source.splitlines(keepends=True)
    edits = []
    for node, target in _package_imports(source, module_name, False):
        if isinstance(node, ast.Import):
            raise ValueError(
                f"{module_name}: 'import {PACKAGE}...' cannot be bundled; "
                "use 'from ... import name'"
            )
        if target in bundled:
            edits.append((node.lineno, node.end_lineno, node.col_offset))
    for start, end, col in sorted(edits, reverse=True):
        lines[start - 1 : end] = [" " * col + "pass  # bundled import\n"]
    return "".join(lines)


def _top_level_names(source):
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _check_reachable(sources, bundled, embedded):
    """Every package import of the carried modules names a carried module,
    and every embedded module's parent package exists at run time."""
    carried = set(bundled) | set(embedded)
    stubs = {m.rsplit(".", i)[0] for m in bundled for i in range(1, m.count("."))}
    for name, (is_package, source) in sources.items():
        for _, target in _package_imports(source, name, is_package):
            if target not in carried:
                raise ValueError(
                    f"{name} imports {target}, which custom_interface.py does "
                    "not carry: add it to BUNDLED_MODULES or EMBEDDED_MODULES"
                )
    for name in embedded:
        parent = name.rsplit(".", 1)[0]
        if parent != PACKAGE and parent not in carried | stubs:
            raise ValueError(f"{name}: its package {parent} is not embedded")


def _as_literal(source):
    """``source`` as a parenthesised string literal, one source line a line."""
    lines = source.splitlines(keepends=True) or [""]
    return "(\n" + "".join(f"    {line!r}\n" for line in lines) + ")"


def _module_source(name):
    module = importlib.import_module(name)
    # the file itself: inspect.getsource refuses an empty __init__.py
    with open(inspect.getsourcefile(module), encoding="utf-8") as handle:
        return hasattr(module, "__path__"), handle.read()


def build_standalone_source(modules=BUNDLED_MODULES, embedded=EMBEDDED_MODULES):
    """The text of ``custom_interface.py``.

    Raises
    ------
    ValueError
        Two bundled modules define the same top-level function or class (the
        second would silently replace the first), or a carried module imports
        one of the package that is neither bundled nor embedded.

    Example
    -------
    >>> code = build_standalone_source(
    ...     ("speechbrain_v2s.errors", "speechbrain_v2s.atomic",
    ...      "speechbrain_v2s.audio.features", "speechbrain_v2s.audio.io"),
    ...     embedded=())
    >>> "def compute_mel" in code, "def load_audio" in code
    (True, True)
    >>> "from speechbrain_v2s.audio.features import" in code  # import stripped
    False
    >>> build_standalone_source(("speechbrain_v2s.audio.io",), ())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: speechbrain_v2s.audio.io imports ..., which ... does not carry: ...
    >>> twice = ("speechbrain_v2s.hub_card",) * 2
    >>> build_standalone_source(twice, embedded=())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: speechbrain_v2s.hub_card and speechbrain_v2s.hub_card both define ...
    """
    sources = {name: _module_source(name) for name in (*modules, *embedded)}
    seen = {}
    parts = [
        HEADER.format(
            modules="\n".join(f"    {m}" for m in modules),
            embedded="\n".join(f"    {m}" for m in embedded) or "    (none)",
        )
    ]
    for name in modules:
        source = sources[name][1]
        for top in _top_level_names(source):
            if top in seen:
                raise ValueError(
                    f"{name} and {seen[top]} both define {top!r}: rename one "
                    "before bundling"
                )
            seen[top] = name
        body = _strip_internal_imports(source, set(modules), name)
        parts.append(f"\n# {'=' * 70}\n# {name}\n# {'=' * 70}\n{body}")
    _check_reachable(sources, modules, embedded)
    parts.append(f"\n\n# {'=' * 70}\n_V2S_BUNDLED = {tuple(modules)!r}\n")
    parts.append("# Embedded modules: (is a package, source), imported on first use.\n")
    parts.append("_V2S_EMBEDDED = {}\n")
    for name in embedded:
        is_package, source = sources[name]
        parts.append(
            f"\n# {name}\n_V2S_EMBEDDED[{name!r}] = ({is_package!r}, "
            f"{_as_literal(source)})\n"
        )
    parts.append(FOOTER.replace("@PACKAGE@", PACKAGE))
    code = "".join(parts)
    compile(code, "custom_interface.py", "exec")  # fail at export, not at load
    return code


def write_standalone(path, modules=BUNDLED_MODULES, embedded=EMBEDDED_MODULES):
    """Write ``custom_interface.py`` to ``path``.

    Example
    -------
    >>> import os, runpy, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "custom_interface.py")
    >>> write_standalone(path, ("speechbrain_v2s.audio.features",), embedded=())
    >>> namespace = runpy.run_path(path)  # runs on its own, as foreign_class does
    >>> namespace["SAMPLE_RATE"], callable(namespace["compute_mel"])
    (24000, True)
    """
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(build_standalone_source(modules, embedded))
