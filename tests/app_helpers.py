"""Helpers of the web-app tests: a free loopback port, and a server's page
once it answers.

Example
-------
>>> 0 < free_port() < 65536
True
"""

import socket
import time
import urllib.request


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_page(url, process, seconds, why, poll=0.5):
    """The text of ``url`` as soon as it answers.

    Fails (``AssertionError`` with ``why()``: the server's output) when
    ``process`` exits first or ``seconds`` pass; polls every ``poll`` s.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the server exited with {process.returncode}: {why()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            time.sleep(poll)
    raise AssertionError(f"{url} did not answer in {seconds} s: {why()}")
