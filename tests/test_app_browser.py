"""The web demo in a real browser: Debian's headless chromium, driven by
Selenium through chromium-driver (``make browser`` installs both).

The page is served in this process on a loopback port with a tiny exported
model; a synthetic corpus video is uploaded, the speech the page plays is
fetched and measured, a text file shows its error line, and a screenshot
must not be blank. ``V2S_APP_SCREENSHOT=path`` keeps the screenshot (the
README's picture is made so). The upload test runs twice: against the app
served in this process, and against a Space folder written by ``v2s-space``
and started with ``python app.py`` in a fresh virtual environment holding
only the Space's ``requirements.txt``, as a user (or the Hub) runs it. That
environment is several GB (torch from PyPI brings its CUDA libraries when the
CPU index cannot be reached) and takes minutes to install, so the Space run
is opt-in: ``V2S_SPACE_TEST=1`` (``V2S_SPACE_VENV=DIR`` builds the venv there,
or reuses it, instead of a temporary folder).
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from app_helpers import free_port, wait_for_page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
HPARAMS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "hparams")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="chromium and chromium-driver are not installed (make browser)",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The demo on a tiny random mel model, ``cropped`` ticked: its URL."""
    from speechbrain_v2s.app.ui import build_demo
    from speechbrain_v2s.export import export_architecture

    folder = tmp_path_factory.mktemp("tiny_mel")
    torch.manual_seed(0)
    export_architecture(os.path.join(HPARAMS, "tiny_mel.yaml"), folder)
    demo = build_demo([str(folder)], cropped=True)
    demo.v2s_shelf.get(demo.v2s_shelf.names[0])  # loaded before any request
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def space_served(tmp_path_factory):
    """A Space folder for the tiny random mel model (``--cropped``), started
    with ``python app.py`` in a fresh venv built from its requirements.txt
    only (no access to this checkout: the Space carries its own copy of the
    package): its URL."""
    from speechbrain_v2s.app.space import write_space
    from speechbrain_v2s.export import export_architecture

    work = tmp_path_factory.mktemp("space")
    torch.manual_seed(0)
    export_architecture(os.path.join(HPARAMS, "tiny_mel.yaml"), work / "tiny_mel")
    space = work / "space"
    write_space(str(work / "tiny_mel"), str(space), cropped=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Offline, the torch CPU index in requirements.txt cannot answer: fail
    # fast on it and take the wheels from the configured indexes.
    env.update(PIP_RETRIES="0", PIP_TIMEOUT="5", PIP_DISABLE_PIP_VERSION_CHECK="1")
    venv = Path(os.environ.get("V2S_SPACE_VENV") or work / "venv")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r"]
        + ["requirements.txt"],
        cwd=space,
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr[-3000:]
    # the app runs on the Space's own copy of the package, not this checkout
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import speechbrain_v2s as p; print(p.__file__)",
        ],
        cwd=space,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(space / "speechbrain_v2s" / "__init__.py"), where
    port = free_port()
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    env.update(GRADIO_ANALYTICS_ENABLED="False", OMP_NUM_THREADS="1")
    log = work / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), "app.py"],
            cwd=space,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(url, process, 180, lambda: log.read_text()[-3000:])
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# The Space's venv is GBs (pytest keeps the last three runs' temporary
# folders), so that run is opt-in, as the module docstring says.
SPACE_OPT_IN = pytest.mark.skipif(
    not os.environ.get("V2S_SPACE_TEST"),
    reason="a fresh venv for the Space (GBs, minutes): set V2S_SPACE_TEST=1",
)


@pytest.fixture(
    params=[
        "in_process",
        pytest.param("space", marks=[pytest.mark.slow, SPACE_OPT_IN]),
    ]
)
def app_url(request):
    """The upload test's two servers: this process, and a Space's app.py."""
    return request.getfixturevalue(
        "served" if request.param == "in_process" else "space_served"
    )


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        # a test pattern as the webcam, allowed without asking
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1500",
        "--disable-gpu",
    ):
        options.add_argument(flag)
    # the page's console, for the message of a failed wait
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _upload(browser, url, path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    field = WebDriverWait(browser, 30).until(
        ready.presence_of_element_located(
            (By.CSS_SELECTOR, "#video-in input[type=file]")
        )
    )
    field.send_keys(str(path))


def _status(browser):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "status").text


def _page_state(browser):
    """The status line and the browser console: what a failed wait says."""
    try:
        console = [entry["message"] for entry in browser.get_log("browser")]
    except Exception as err:  # a driver without console logs
        console = [f"(no console log: {err})"]
    return f"status: {_status(browser)!r}; console: {console[-10:]}"


def test_video_in_speech_out(app_url, browser, synthetic_corpus, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from speechbrain_v2s.video.io import read_video

    video = sorted(synthetic_corpus.glob("s*/*.mpg"))[0]
    frames = read_video(video, grayscale=True).num_frames
    _upload(browser, app_url, video)

    def audio_source(driver):
        """The file the page's audio player plays (its download link)."""
        if not driver.find_elements(By.CSS_SELECTOR, "#speech audio"):
            return False
        links = driver.find_elements(By.CSS_SELECTOR, "#speech a[download]")
        return links and links[0].get_attribute("href")

    source = WebDriverWait(browser, 60).until(audio_source)
    assert source.endswith("_speech.wav")
    with urllib.request.urlopen(source, timeout=30) as response:
        (tmp_path / "speech.wav").write_bytes(response.read())
    wav, rate = soundfile.read(tmp_path / "speech.wav")
    assert rate == 24000
    assert len(wav) / rate == pytest.approx(frames * 960 / 24000, abs=1e-9)
    assert f"{frames} frames" in _status(browser)

    shot = tmp_path / "app.png"
    browser.save_screenshot(str(shot))
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] > 500 and pixels.var() > 100, pixels.var()
    if os.environ.get("V2S_APP_SCREENSHOT"):
        shutil.copy(shot, os.environ["V2S_APP_SCREENSHOT"])


def test_a_text_file_shows_an_error_line(served, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n")
    _upload(browser, served, notes)
    WebDriverWait(browser, 30).until(lambda d: "Error" in _status(d))
    assert "notes.txt: not a video this demo can read" in _status(browser)
    assert "Traceback" not in browser.page_source


def test_webcam_recording_gives_speech(served, browser):
    """Chromium's fake camera (a test pattern, taken as a mouth crop) is
    recorded in the Webcam tab; the recording reaches the model."""
    import re

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(served)
    tab = WebDriverWait(browser, 30).until(
        lambda d: [
            t
            for t in d.find_elements(By.CSS_SELECTOR, "button[role=tab]")
            if t.text == "Webcam"
        ]
    )[0]
    tab.click()

    def button(label):
        def find(driver):
            found = [
                b
                for b in driver.find_elements(By.CSS_SELECTOR, "#webcam button")
                if b.text.strip() == label
            ]
            return found[0] if found else False

        return WebDriverWait(browser, 30).until(find)

    button("Click to Access Webcam").click()
    # Record only once the camera delivers frames: a recording started
    # before the stream plays may hold none (a loaded machine is slow here).
    playing = (
        "const v = document.querySelector('#webcam video');"
        "return !!v && v.readyState >= 2 && v.currentTime > 0.5;"
    )
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(playing))
    button("Record").click()
    time.sleep(2)
    button("Stop").click()
    try:
        WebDriverWait(browser, 120).until(
            lambda d: re.search(r"\d+ frames|Error", _status(d))
        )
    except Exception as err:
        raise AssertionError(
            f"no answer to the recording: {_page_state(browser)}"
        ) from err
    assert re.search(r"\d+ frames", _status(browser)), _page_state(browser)
    assert _status(browser).startswith("sample.webm: ")
