"""Export keeps an existing empty folder, and a killed export leaves nothing mistakable.

- An existing empty OUTDIR (mode 2750, another group) is the same folder
  afterwards: same inode, mode and group, and the export inside it.
- ``SIGKILL`` during a real export process leaves at most a hidden
  ``.fabric-export-partial-*`` folder (skipped by Hive readers), never an
  OUTDIR holding part of the history; the next export removes the leftover
  and succeeds.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from support import child_env

from fabric_nb.errors import OutputExistsError
from fabric_nb.export import STAGING_PREFIX, export_history


def test_an_existing_empty_folder_keeps_its_inode_mode_and_group(
    sample_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    os.chmod(out, 0o2750)
    group = 4242 if os.geteuid() == 0 else os.getegid()
    os.chown(out, -1, group)
    before = out.stat()

    result = export_history(sample_store, out)

    after = out.stat()
    assert (after.st_ino, stat.S_IMODE(after.st_mode), after.st_gid) == (
        before.st_ino,
        0o2750,
        group,
    )
    assert result.jobs > 0
    assert (out / "jobs").is_dir()
    assert (out / "outputs").is_dir()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert (out / "jobs").stat().st_gid == group  # created inside it: the setgid group


EXPORT = """
import sys
from fabric_nb.export import export_history
export_history(sys.argv[1], sys.argv[2], fmt=sys.argv[3])
"""


def kill_mid_export(store: Path, out: Path, fmt: str, watch: Path) -> bool:
    """Run an export and SIGKILL it once its staging folder exists; whether that happened."""
    child = subprocess.Popen(
        [sys.executable, "-c", EXPORT, str(store), str(out), fmt], env=child_env(out.parent)
    )
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        staging = [p for p in watch.iterdir() if p.name.startswith(STAGING_PREFIX)]
        if staging and any(staging[0].rglob("*")):
            child.send_signal(signal.SIGKILL)
            child.wait()
            return True
    child.kill()
    child.wait()
    return False


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "existing empty folder"])
def test_a_killed_export_leaves_nothing_mistakable_and_the_next_one_cleans_up(
    sample_store: Path, tmp_path: Path, fmt: str, existing: bool
) -> None:
    out = tmp_path / "exports"
    if existing:
        out.mkdir()
    watch = out if existing else tmp_path
    for _ in range(10):  # the kill must land while files are being written
        if kill_mid_export(sample_store, out, fmt, watch):
            break
        shutil.rmtree(out, ignore_errors=True)  # the export finished first: start again
        if existing:
            out.mkdir()
    else:
        pytest.fail("no kill landed while the export was writing")

    entries = out.iterdir() if out.exists() else iter(())
    visible = sorted(p.name for p in entries if not p.name.startswith("."))
    if visible:
        # The one window: killed between the moves that publish into a kept
        # folder. The hidden staging folder beside it says it is not an export.
        assert existing
        assert visible in (["jobs"], ["jobs.csv"])
    leftovers = [p for p in watch.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert len(leftovers) == 1
    if fmt == "parquet":  # a Hive reader of the folder skips the hidden leftover
        assert ds.dataset(watch, format="parquet", partitioning="hive").count_rows() == 0

    result = export_history(sample_store, out, fmt=fmt)  # type: ignore[arg-type]

    assert result.jobs > 0
    assert not [p for p in watch.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_stale_staging_folder_beside_outdir_never_takes_the_users_files(
    sample_store: Path, tmp_path: Path
) -> None:
    parent = tmp_path / "P"
    (parent / "jobs").mkdir(parents=True)
    (parent / "jobs" / "notes.txt").write_text("mine\n")
    (parent / "outputs.csv").write_text("a,b\n1,2\n")
    stale = parent / f"{STAGING_PREFIX}stale"
    (stale / "outputs").mkdir(parents=True)  # as a killed export leaves it

    result = export_history(sample_store, parent / "new")

    assert result.jobs > 0
    assert (parent / "jobs" / "notes.txt").read_text() == "mine\n"
    assert (parent / "outputs.csv").read_text() == "a,b\n1,2\n"
    assert not stale.exists()


def test_a_stale_staging_folder_inside_outdir_takes_back_only_what_it_moved(
    sample_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    (out / "jobs").mkdir(parents=True)
    (out / "jobs" / "notes.txt").write_text("mine\n")
    (out / f"{STAGING_PREFIX}stale" / "outputs").mkdir(parents=True)  # records no move

    with pytest.raises(OutputExistsError):
        export_history(sample_store, out)

    assert (out / "jobs" / "notes.txt").read_text() == "mine\n"
    assert not [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
