"""A scan's files held as columns read back exactly as the files that went in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fabric_nb._scan import FileStat, ScannedFile, ScannedFiles, scan_paths

_ROOTS = ["/data/a/", "/data/b/", "rel/", "/data/a"]
_PARTS = st.text(alphabet="ab/.-é", max_size=6)
_STATS = st.builds(
    FileStat,
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**40),
    st.integers(-(2**62), 2**62),
    st.integers(-(2**62), 2**62),
)


@st.composite
def scanned(draw: st.DrawFn) -> ScannedFile:
    root = draw(st.sampled_from(_ROOTS))
    relative = draw(_PARTS)
    absolute = root if root.startswith("/") else "/cwd/" + root
    if draw(st.booleans()):  # a name and a key that share no root
        return ScannedFile(draw(_PARTS) + "x", "/other/" + relative, draw(_STATS))
    return ScannedFile(root + relative, absolute + relative, draw(_STATS))


@given(st.lists(scanned(), max_size=30), st.lists(scanned(), max_size=10))
def test_columns_give_back_each_file_in_order(
    first: list[ScannedFile], second: list[ScannedFile]
) -> None:
    files = ScannedFiles(first)
    more = ScannedFiles(second)
    files.extend(more)
    expected = [*first, *second]

    assert len(files) == len(expected)
    assert list(files) == expected
    assert [files[i] for i in range(len(expected))] == expected
    assert [files.name(i) for i in range(len(expected))] == [f.name for f in expected]
    assert [files.key(i) for i in range(len(expected))] == [f.key for f in expected]
    assert files.names() == [f.name for f in expected]
    assert list(files[1:-1]) == expected[1:-1]
    if expected:
        assert files[-1] == expected[-1]
    assert files == expected


def test_a_walk_keeps_one_relative_path_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("a.json", "sub/b.json"):
        (tmp_path / "in" / name).write_text("{}")
    monkeypatch.chdir(tmp_path)

    files = scan_paths(["in", str(tmp_path / "in" / "a.json")]).files

    assert [(f.name, f.key) for f in files] == [
        (os.path.join("in", "a.json"), str(tmp_path / "in" / "a.json")),
        (os.path.join("in", "sub", "b.json"), str(tmp_path / "in" / "sub" / "b.json")),
    ]
    assert [f.stat for f in files] == [FileStat.of(os.stat(f.name)) for f in files]
    assert files.is_regular(0)
    assert files.is_regular(1)


@st.composite
def groups(draw: st.DrawFn) -> list[tuple[str, ScannedFiles]]:
    """Groups as scan_paths makes them: a folder root ending in a separator, or a file."""
    made = []
    for _ in range(draw(st.integers(1, 6))):
        root = "/" + "/".join(draw(st.lists(st.sampled_from("ab"), min_size=1, max_size=3)))
        files = ScannedFiles()
        if draw(st.booleans()):  # a file given by name
            files.append(root, root, FileStat(0o100644, 1, 2, 3, 4))
            made.append((root, files))
            continue
        folder = root + "/"
        files.start_group(folder, folder)
        for name in draw(
            st.lists(st.sampled_from(["a", "b", "a/b", "b/a", "x.json"]), unique=True)
        ):
            files.add_relative(name, FileStat(0o100644, 1, 2, 3, 4))
        made.append((folder, files))
    return made


@given(groups())
def test_joined_groups_keep_each_file_once_at_its_first_place(
    made: list[tuple[str, ScannedFiles]],
) -> None:
    from fabric_nb._scan import _joined

    first: dict[str, ScannedFile] = {}
    for _, files in made:
        for file in files:
            first.setdefault(file.key, file)
    assert list(_joined(made)) == list(first.values())
