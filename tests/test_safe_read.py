"""files.safe_read: the one bounded reader of the user's files. Regular files
only (a FIFO must not block, /dev/zero must not be read), a hard size bound,
one line naming the file."""
import os
import socket
import threading

import pytest

from posebooth.files.safe_read import UserFileError, read_user_file


def test_reads_a_regular_file_exactly(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)        # more than one read chunk
    (tmp_path / "a.bin").write_bytes(data)
    assert read_user_file(tmp_path / "a.bin", "scene file", len(data)) == data
    (tmp_path / "empty").write_bytes(b"")
    assert read_user_file(tmp_path / "empty", "scene file", 10) == b""


def test_follows_a_symlink_to_a_regular_file(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert read_user_file(tmp_path / "link.json", "scene file", 100) == b"{}"


def _error(path, max_bytes=1000) -> str:
    with pytest.raises(UserFileError) as e:
        read_user_file(path, "scene file", max_bytes)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(target=lambda: done.append(_error(fifo)), daemon=True)
    t.start()
    t.join(60)
    assert done and "named pipe" in done[0]


def test_devices_and_symlinks_to_them_are_refused(tmp_path):
    assert "device" in _error("/dev/zero")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    assert "device" in _error(tmp_path / "zero.json")


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        assert "not a regular file" in _error(path)


def test_a_folder_missing_file_and_link_loop(tmp_path):
    assert "is a folder" in _error(tmp_path)
    assert "no such file" in _error(tmp_path / "nope.json")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert "loop" in _error(tmp_path / "a")


def test_size_bound_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(1 << 40)                   # 1 TiB sparse: its size alone must refuse it
    msg = _error(big, max_bytes=1 << 20)
    assert "1.0 TiB" in msg and "1.0 MiB" in msg
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 1001)
    assert "more than" in _error(exact, max_bytes=1000)
    assert read_user_file(exact, "scene file", 1001) == b"x" * 1001


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    assert "permission denied" in _error(path)
