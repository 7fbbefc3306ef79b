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


def machine_line(threads=None, load_start=None, extra=""):
    """The ``- Date ...; machine ...`` line every benchmark section starts with:
    UTC time, host, cores and CPU, torch and its threads, ``OMP_WAIT_POLICY``
    when set, and the 1-min load average (at the start, when given, and now).
    """
    import datetime

    import torch

    now = datetime.datetime.now(datetime.UTC)
    parts = [
        f"- Date: {now:%Y-%m-%d %H:%M} UTC; machine: {platform.node()}, "
        f"{os.cpu_count()} CPU cores ({cpu_model()}), torch {torch.__version__}"
        + (f", {threads} threads" if threads else "")
    ]
    policy = os.environ.get("OMP_WAIT_POLICY")
    if policy:
        parts.append(f"OMP_WAIT_POLICY={policy}")
    load = f"{os.getloadavg()[0]:.2f}"
    if load_start is not None:
        load = f"{load_start:.2f} at the start, {load} at the end"
    parts.append(f"1-min load average {load}")
    return "; ".join(parts) + (f"; {extra}" if extra else "") + "."
