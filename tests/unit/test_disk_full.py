"""Disk full while a stage writes its output: the write fails with ENOSPC/EFBIG (the cause), the
temp dir is removed, and the previous committed output stays intact.

Prefers a real full filesystem (a small tmpfs mounted over a temp dir, as root); where mounts
are refused it falls back to a file-size quota (RLIMIT_FSIZE) in a child process.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.orchestration.stage import StageOutputs, hash_path

pytestmark = pytest.mark.unit

BIG = 1 << 20  # 1 MiB: more than the 256 KiB tmpfs or the quota


def commit_small(root: Path) -> str:
    with StageOutputs("s", ["data/out"], root=root) as out:
        (out["data/out"] / "a.bin").write_bytes(b"old" * 100)
        out.commit({"v": 1})
    return hash_path(root / "data/out")


def write_big(root: Path) -> None:
    with StageOutputs("s", ["data/out"], root=root) as out:
        with open(out["data/out"] / "a.bin", "wb") as fh:
            for _ in range(BIG // 4096 + 1):
                fh.write(b"\1" * 4096)
                fh.flush()
        out.commit({"v": 2})


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True, timeout=10
    )
    if r.returncode != 0:
        pytest.skip(f"tmpfs mount refused ({r.stderr.strip()}); the RLIMIT_FSIZE test covers it")
    yield mnt
    subprocess.run(["umount", str(mnt)], timeout=10)


def test_full_tmpfs_keeps_previous_output(small_fs):
    before = commit_small(small_fs)
    with pytest.raises(OSError) as info:
        write_big(small_fs)
    assert info.value.errno == errno.ENOSPC, info.value
    assert hash_path(small_fs / "data/out") == before
    assert (small_fs / "data/out/a.bin").read_bytes() == b"old" * 100
    assert not (small_fs / "data/.out.tmp").exists()  # the space is given back


def test_file_size_quota_keeps_previous_output(tmp_path):
    before = commit_small(tmp_path)
    child = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        from pathlib import Path
        from test_disk_full import write_big
        try:
            write_big(Path({str(tmp_path)!r}))
        except OSError as e:
            print("ERRNO", e.errno, e.strerror)
            sys.exit(3)
    """)
    r = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr[-2000:]
    assert f"ERRNO {errno.EFBIG}" in r.stdout
    assert hash_path(tmp_path / "data/out") == before
    assert not (tmp_path / "data/.out.tmp").exists()
