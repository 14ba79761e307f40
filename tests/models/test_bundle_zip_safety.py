"""Zip-slip and zip bombs: a hostile bundle .zip is refused before anything is written."""

from __future__ import annotations

import io
import os
import stat
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from radval.exceptions import BundleError
from radval.models import _safezip
from radval.models import bundle as bundle_mod
from radval.models._safezip import ZipLimits, copy_limited
from radval.models.bundle import load_bundle, write_bundle
from tests.models.test_signature import make_signature


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the system temporary folder at an empty folder we can inspect."""
    t = tmp_path / "systemp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    return t


def _good_entries(tmp_path: Path) -> dict[str, bytes]:
    root = write_bundle(tmp_path / "good", make_signature(deep=None))
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]],
         compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _patch_names(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite an entry name in the local header and the central directory (same length)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 2
    path.write_bytes(data.replace(old, new))


def _nothing_extracted(systemp: Path) -> None:
    assert list(systemp.iterdir()) == []


HOSTILE_NAMES = [
    ("/{root}", "absolute name"),  # the reported case: one component, e.g. "/x"
    ("/{abs}", "absolute name"),
    ("\\evil.txt", "absolute name"),
    ("C:/evil.txt", "drive letter"),
    ("c:evil.txt", "drive letter"),
    ("../evil.txt", "'..'"),
    ("x/../signature.json", "'..'"),
    ("..", "'..'"),
    ("sub\\signature.json", "backslash"),
    ("sub/signature.json", "inside a folder"),
    ("notes.txt", "not a bundle file"),
    ("SIGNATURE.JSON", "not a bundle file"),
    ("signature.json\tx", "control character"),
]


@pytest.mark.parametrize(("name", "why"), HOSTILE_NAMES)
def test_hostile_entry_names_are_refused_before_writing(tmp_path: Path, private_tmp: Path,
                                                        name: str, why: str) -> None:
    target = tmp_path / "outside" / "evil.txt"
    at_root = Path("/") / f"radval-zip-slip-{os.getpid()}-{tmp_path.name}"
    name = name.format(abs=str(target).lstrip("/"), root=at_root.name)
    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = list(_good_entries(tmp_path).items())
    entries.insert(0, (name, b"owned\n"))  # first, so a lazy extractor would write it
    z = _zip(tmp_path / "hostile.zip", entries)
    try:
        with pytest.raises(BundleError) as info:
            load_bundle(z)
        assert not at_root.exists()
    finally:
        at_root.unlink(missing_ok=True)
    msg = str(info.value)
    assert why in msg and repr(name) in msg and "\n" not in msg
    assert not target.exists()
    assert not (tmp_path / "evil.txt").exists()
    _nothing_extracted(private_tmp)


@pytest.mark.parametrize(("raw", "why"), [(b"signature.json\x00.x", "NUL or control"),
                                          (b"/etc/radval-x.txt", "absolute name")])
def test_names_zipfile_would_rewrite_are_checked_raw(tmp_path: Path, private_tmp: Path,
                                                     raw: bytes, why: str) -> None:
    """zipfile cuts ZipInfo.filename at a NUL: the raw name is what is checked."""
    entries = _good_entries(tmp_path)
    placeholder = b"Q" * len(raw)
    z = _zip(tmp_path / "nul.zip", [(placeholder.decode(), b"x"), *entries.items()])
    _patch_names(z, placeholder, raw)
    with pytest.raises(BundleError, match=why):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_duplicate_entries_are_refused(tmp_path: Path, private_tmp: Path) -> None:
    entries = _good_entries(tmp_path)
    with pytest.warns(UserWarning, match="Duplicate name"):
        z = _zip(tmp_path / "dup.zip", [*entries.items(), ("signature.json", b"{}")])
    with pytest.raises(BundleError, match="duplicates the entry 'signature.json'"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def _info(name: str, mode: int, system: int = 3, dos: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = system
    info.external_attr = (mode << 16) | dos
    return info


@pytest.mark.parametrize(("info", "why"), [
    (_info("radiomics_params.yaml", stat.S_IFLNK | 0o777), "symbolic link"),
    (_info("radiomics_params.yaml", stat.S_IFIFO | 0o644), "special file"),
    (_info("radiomics_params.yaml", stat.S_IFCHR | 0o644), "special file"),
    (_info("radiomics_params.yaml", stat.S_IFDIR | 0o755), "directory"),
    (_info("radiomics_params.yaml", 0, system=0, dos=0x10), "directory"),
])
def test_links_folders_and_special_files_are_refused(tmp_path: Path, private_tmp: Path,
                                                     info: zipfile.ZipInfo, why: str) -> None:
    entries = _good_entries(tmp_path)
    data = entries.pop("radiomics_params.yaml")
    z = _zip(tmp_path / "link.zip", [(info, data), *entries.items()])
    with pytest.raises(BundleError, match=why):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_other_compression_methods_are_refused(tmp_path: Path, private_tmp: Path) -> None:
    z = _zip(tmp_path / "bz.zip", list(_good_entries(tmp_path).items()),
             compression=zipfile.ZIP_BZIP2)
    with pytest.raises(BundleError, match="compression method 12"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_symlink_in_a_bundle_folder_is_refused(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", make_signature(deep=None))
    secret = tmp_path / "secret.yaml"
    secret.write_text("x: 1\n")
    (root / "radiomics_params.yaml").unlink()
    (root / "radiomics_params.yaml").symlink_to(secret)
    with pytest.raises(BundleError, match="radiomics_params.yaml is a symbolic link"):
        load_bundle(root)


# -- zip bombs --------------------------------------------------------------------------

def test_many_entries_are_refused_before_parsing(tmp_path: Path, private_tmp: Path) -> None:
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(5000):
            zf.writestr(f"f{i}", b"")
    with pytest.raises(BundleError, match="announces 5000 entries"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_declared_size_above_the_file_limit(tmp_path: Path, private_tmp: Path) -> None:
    """A 70 MB signature.json (64 MiB allowed) is refused from the entry list."""
    entries = _good_entries(tmp_path)
    entries["signature.json"] = b" " * (70 << 20)
    z = _zip(tmp_path / "big.zip", list(entries.items()))
    assert z.stat().st_size < 1 << 20
    with pytest.raises(BundleError, match=r"entry 'signature.json' declares 73400320 bytes"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_compression_ratio_bomb_is_refused(tmp_path: Path, private_tmp: Path) -> None:
    """20 MB of zeros as weights: within the size limit, but a 1000-fold expansion."""
    entries = _good_entries(tmp_path)
    entries["deep.safetensors"] = bytes(20 << 20)
    z = _zip(tmp_path / "ratio.zip", list(entries.items()))
    with pytest.raises(BundleError, match=r"entry 'deep.safetensors' expands \d+-fold"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_total_declared_size_is_capped(tmp_path: Path, private_tmp: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    small = ZipLimits(max_file_bytes=dict(bundle_mod.BUNDLE_LIMITS.max_file_bytes),
                      max_total_bytes=1000)
    monkeypatch.setattr(bundle_mod, "BUNDLE_LIMITS", small)
    z = _zip(tmp_path / "t.zip", list(_good_entries(tmp_path).items()))
    with pytest.raises(BundleError, match="above the bundle limit of 1000"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def _lying_zip(tmp_path: Path, actual: int, declared: int) -> Path:
    """signature.json holds ``actual`` bytes but its headers declare ``declared``."""
    entries = _good_entries(tmp_path)
    entries["signature.json"] = b"{" + b" " * (actual - 1)
    z = _zip(tmp_path / "lying.zip", list(entries.items()))
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("signature.json")
    data = bytearray(z.read_bytes())
    # local header: uncompressed size at +22; central directory entry: at +24
    lh = info.header_offset
    assert data[lh:lh + 4] == b"PK\x03\x04"
    struct.pack_into("<L", data, lh + 22, declared)
    cd = data.find(b"PK\x01\x02")
    while cd >= 0:
        name_len = struct.unpack_from("<H", data, cd + 28)[0]
        if bytes(data[cd + 46:cd + 46 + name_len]) == b"signature.json":
            struct.pack_into("<L", data, cd + 24, declared)
            break
        cd = data.find(b"PK\x01\x02", cd + 4)
    z.write_bytes(bytes(data))
    with zipfile.ZipFile(z) as zf:
        assert zf.getinfo("signature.json").file_size == declared
    return z


def test_lying_sizes_never_write_or_hold_more_than_declared(
        tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """48 MB of text declared as 5000 bytes: at most 5000 bytes are ever written,
    memory stays small, and nothing is left behind."""
    z = _lying_zip(tmp_path, actual=48 << 20, declared=5000)
    written: dict[str, int] = {}
    real_copy = _safezip.copy_limited

    def spy(src: object, dst: object, *, limit: int, what: str) -> int:
        class Counting(io.RawIOBase):
            def write(self, b: bytes) -> int:  # type: ignore[override]
                written[what] = written.get(what, 0) + len(b)
                return dst.write(b)  # type: ignore[attr-defined,no-any-return]
        return real_copy(src, Counting(), limit=limit, what=what)

    monkeypatch.setattr(_safezip, "copy_limited", spy)
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match="not a valid zip file.*CRC"):
            load_bundle(z)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    sig_written = sum(v for k, v in written.items() if "signature.json" in k)
    assert sig_written <= 5000
    _nothing_extracted(private_tmp)


def test_streaming_limit_stops_an_endless_entry() -> None:
    """copy_limited never trusts a size: it stops at limit + 1 bytes of an endless stream."""
    class Endless(io.RawIOBase):
        served = 0

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            assert 0 < n <= 1 << 16  # bounded reads: memory never holds more than a chunk
            self.served += n
            return b"\0" * n

    src, dst = Endless(), io.BytesIO()
    with pytest.raises(BundleError, match="holds more than 100000 bytes"):
        copy_limited(src, dst, limit=100_000, what="x.zip: entry 'a'")
    assert len(dst.getvalue()) <= 100_000
    assert src.served <= 100_001
    ok = io.BytesIO()
    assert copy_limited(io.BytesIO(b"abc"), ok, limit=3, what="w") == 3
    assert ok.getvalue() == b"abc"


def test_declared_larger_than_actual_is_refused(tmp_path: Path, private_tmp: Path) -> None:
    z = _lying_zip(tmp_path, actual=3000, declared=9000)
    with pytest.raises(BundleError, match="signature.json"):
        load_bundle(z)
    _nothing_extracted(private_tmp)


def test_valid_zip_still_loads_and_cleans_up(tmp_path: Path, private_tmp: Path) -> None:
    z = write_bundle(tmp_path / "ok", make_signature(deep=None), zip=True)
    b = load_bundle(z)
    assert b.root.parent == private_tmp
    assert sorted(p.name for p in b.root.iterdir()) == sorted(
        p.name for p in (tmp_path / "ok").iterdir())


# -- the command line: nothing appears anywhere ------------------------------------------

def test_validate_on_hostile_bundles_writes_nothing_anywhere(
        tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Run `radval validate` on hostile zips from a temporary working folder: each is
    refused with exit 65 and a one-line message naming the entry; no file appears in
    the working folder, its parents, the targets, the output folder or the system
    temporary folder."""
    import pandas as pd

    from radval.cli import main

    work = tmp_path / "a" / "b" / "cwd"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    victim = tmp_path / "victim.txt"
    pd.DataFrame({"patient_id": ["p1"], "radiomics_a": [1.0], "radiomics_b": [2.0],
                  "deep_0": [0.0]}).to_csv(tmp_path / "f.csv", index=False)
    pd.DataFrame({"patient_id": ["p1"], "ln_metastasis": [1]}).to_csv(tmp_path / "c.csv",
                                                                        index=False)
    good = _good_entries(tmp_path)
    hostile: dict[str, list[tuple[zipfile.ZipInfo | str, bytes]]] = {
        "absolute": [(str(victim), b"x"), *good.items()],
        "dotdot": [("../../../victim.txt", b"x"), *good.items()],
        "symlink": [(_info("radiomics_params.yaml", stat.S_IFLNK | 0o777), str(victim).encode()),
                    *[(k, v) for k, v in good.items() if k != "radiomics_params.yaml"]],
        "bomb": [*[(k, v) for k, v in good.items() if k != "deep.safetensors"],
                 ("deep.safetensors", bytes(30 << 20))],
    }
    zips = {k: _zip(tmp_path / f"{k}.zip", v) for k, v in hostile.items()}
    before = {p for p in tmp_path.rglob("*")}
    for kind, z in zips.items():
        code = main(["validate", str(z), "--features", str(tmp_path / "f.csv"),
                     "--clinical", str(tmp_path / "c.csv"), "--out", "out", "--site", "s"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 65, kind
        assert len(err) == 1 and z.name in err[0] and "entry" in err[0], (kind, err)
    assert {p for p in tmp_path.rglob("*")} == before
    assert not victim.exists() and not (work / "out").exists()
    _nothing_extracted(private_tmp)


def test_validate_refused_for_its_inputs_creates_no_output_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sound bundle with unusable site inputs (a features table that does not exist, an
    outcome column the clinical table lacks, an outcome with a third level) is refused with
    a one-line error before anything is written: no output folder appears."""
    import pandas as pd

    from radval.cli import main

    bundle = write_bundle(tmp_path / "good", make_signature(deep=None))
    pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "radiomics_a": [1.0, 2.0, 3.0],
                  "radiomics_b": [2.0, 1.0, 0.0], "deep_0": [0.0, 0.0, 0.0]}).to_csv(
        tmp_path / "f.csv", index=False)
    clinical = {"good": {"patient_id": ["p1", "p2", "p3"], "ln_metastasis": [0, 1, 0]},
                "no_outcome": {"patient_id": ["p1", "p2", "p3"], "age": [50, 60, 70]},
                "three_levels": {"patient_id": ["p1", "p2", "p3"], "ln_metastasis": [0, 1, 2]}}
    cases = [("missing_features", tmp_path / "none.csv", "good", 66)]
    cases += [(k, tmp_path / "f.csv", k, 65) for k in ("no_outcome", "three_levels")]
    for kind, feats, clin, code in cases:
        pd.DataFrame(clinical[clin]).to_csv(tmp_path / f"{clin}.csv", index=False)
        out = tmp_path / "out" / kind
        rc = main(["validate", str(bundle), "--features", str(feats), "--clinical",
                   str(tmp_path / f"{clin}.csv"), "--out", str(out), "--site", "s", "-q"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == code and len(err) == 1, (kind, rc, err)
        assert not (tmp_path / "out").exists(), kind
