"""Every "file cannot be used" error shares one base that names file and reason
and survives the trip back from a worker process (pickle)."""

import pickle

import pytest

from speechbrain_v2s.audio.io import AudioReadError
from speechbrain_v2s.errors import FileError
from speechbrain_v2s.prepare.reports import BadFileError
from speechbrain_v2s.video import errors as video_errors


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


FILE_ERRORS = sorted({FileError, *_all_subclasses(FileError)}, key=lambda c: c.__name__)


def test_the_known_errors_share_the_base():
    for cls in (AudioReadError, BadFileError, video_errors.VideoError):
        assert issubclass(cls, FileError)
    assert len(FILE_ERRORS) >= 10  # the base, audio, prepare and seven video errors
    # kept from before the base existed: callers may catch it as RuntimeError
    assert issubclass(AudioReadError, RuntimeError)


@pytest.mark.parametrize("cls", FILE_ERRORS, ids=lambda c: c.__name__)
def test_round_trips_through_pickle(cls, tmp_path):
    path = tmp_path / "s1" / "clip.mp4"
    err = cls(path, "unreadable data\n  at frame 3")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.path, back.reason) == (str(path), "unreadable data at frame 3")
    assert str(back) == str(err) == f"{path}: unreadable data at frame 3"


def test_extra_fields_survive_pickle():
    err = video_errors.NoFaceError("a.mp4", "no face", missing_ratio=0.75)
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.reason, back.missing_ratio) == ("a.mp4", "no face", 0.75)


def test_caught_as_their_own_class_after_pickle():
    with pytest.raises(BadFileError, match=r"^x\.wav: empty file$"):
        raise pickle.loads(pickle.dumps(BadFileError("x.wav", "empty file")))
