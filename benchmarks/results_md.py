"""Writing one benchmark's section of ``benchmarks/RESULTS.md``."""

import os
import platform
import re

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def write_section(text, heading=None, path=RESULTS):
    """Replace the section that starts with ``heading`` (default: the first line
    of ``text``) up to the next ``## `` heading, or append it; other sections stay.
    """
    heading = heading or text.splitlines()[0]
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    else:
        old = "# Benchmarks\n"
    if heading in old:
        pattern = re.compile(re.escape(heading) + r".*?(?=\n## |\Z)", re.S)
        new = pattern.sub(lambda _: text.rstrip() + "\n", old)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(new)


def cpu_model():
    """CPU model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
