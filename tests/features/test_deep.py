"""Tests of the deep-feature network (radval.features.deep)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.exceptions import BundleError, ConfigError, DataError, InputError, MissingInputError

torch = pytest.importorskip("torch")
sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("safetensors")

from radval.features import deep, deep_refit  # noqa: E402
from radval.io.synth import generate_study  # noqa: E402

pytestmark = pytest.mark.torch

FAST = {"epochs": 3, "crop_size": 24, "spacing_mm": 1.25, "channels": (4, 8, 16),
        "feature_dim": 8, "batch_size": 8}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.Series]:
    res = generate_study(tmp_path_factory.mktemp("deep"), small=True, n_patients=24, seed=5)
    from radval.io.manifest import read_manifest

    man = read_manifest(res.manifest)
    clin = pd.read_csv(res.clinical, dtype={"patient_id": str}).set_index("patient_id")
    return man, clin["ln_metastasis"]


@pytest.fixture(scope="module")
def trained(study: tuple[pd.DataFrame, pd.Series]) -> deep.DeepModel:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    return deep.train_deep_model(dev, y, config=FAST, seed=11)


def _state(model: deep.DeepModel) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.network.state_dict().items()}


def test_features_table(study: tuple[pd.DataFrame, pd.Series],
                        trained: deep.DeepModel) -> None:
    man, _ = study
    feats = deep.extract_deep_features(man, trained)
    assert list(feats.columns) == ["patient_id", "reader", "cohort"] + [
        f"deep_{k}" for k in range(8)]
    assert len(feats) == len(man)  # every (patient, reader) row, all cohorts
    assert set(zip(feats["patient_id"], feats["reader"])) == set(
        zip(man["patient_id"], man["reader"]))
    values = feats.filter(like="deep_").to_numpy()
    assert values.dtype == np.float64
    assert np.isfinite(values).all() and (np.abs(values) <= 1).all()  # tanh layer
    assert (values.std(axis=0) > 0).all()
    assert feats.attrs["failures"].empty
    assert trained.training["n"] == man.loc[man["cohort"] == "centre1_train",
                                            "patient_id"].nunique()


def test_training_is_deterministic(study: tuple[pd.DataFrame, pd.Series],
                                   trained: deep.DeepModel) -> None:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    again = deep.train_deep_model(dev, y, config=FAST, seed=11)
    a, b = _state(trained), _state(again)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    via_config = deep.train_deep_model(dev, y, config={**FAST, "seed": 11})
    assert all(np.array_equal(a[k], v) for k, v in _state(via_config).items())
    other = deep.train_deep_model(dev, y, config=FAST, seed=12)
    c = _state(other)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_torch_global_state_restored(study: tuple[pd.DataFrame, pd.Series]) -> None:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    rng_state = torch.random.get_rng_state().clone()
    deep.train_deep_model(dev, y, config={**FAST, "epochs": 1}, seed=3)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_save_load_same_features_at_external_site(tmp_path: Path,
                                                  study: tuple[pd.DataFrame, pd.Series],
                                                  trained: deep.DeepModel) -> None:
    man, _ = study
    wpath, cpath = trained.save(tmp_path / "dev_site")
    assert (wpath.name, cpath.name) == ("deep.safetensors", "deep.json")
    meta = json.loads(cpath.read_text())
    import hashlib

    assert meta["weights_sha256"] == hashlib.sha256(wpath.read_bytes()).hexdigest()
    # the external site only receives the two files
    ext_dir = tmp_path / "external_site"
    ext_dir.mkdir()
    for p in (wpath, cpath):
        (ext_dir / p.name).write_bytes(p.read_bytes())
    loaded = deep.load_deep_model(ext_dir / "deep.safetensors")
    assert loaded.config == trained.config
    external = man[man["cohort"] == "centre2"]
    f_dev = deep.extract_deep_features(external, trained)
    f_ext = deep.extract_deep_features(external, loaded, jobs=2)
    pd.testing.assert_frame_equal(f_dev, f_ext, check_exact=True)
    # loading from the metadata dict (as stored in a signature bundle) works too
    from_dict = deep.load_deep_model(wpath, meta)
    pd.testing.assert_frame_equal(f_dev, deep.extract_deep_features(external, from_dict),
                                  check_exact=True)


def test_refit_trains_exactly_like_the_final_network(study: tuple[pd.DataFrame, pd.Series],
                                                    trained: deep.DeepModel) -> None:
    """DeepRefit on the whole development cohort with the final seed is the final network:
    the optimism resamples repeat the training procedure, not an approximation of it."""
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    refit = deep_refit.prepare_refit(dev, trained.config)
    assert len(refit.rows) == len(dev)           # every reader (second readers for the ICC)
    assert refit.crops.shape[2] == FAST["crop_size"] + 2 * trained.config.max_shift_vox
    ids = dev.loc[dev["reader"] == "1", "patient_id"].tolist()   # training order
    got = refit.features(ids, y.loc[ids].to_numpy(), seed=11)
    assert list(got.columns) == ["patient_id", "reader"] + trained.feature_names
    assert got.attrs["training"]["apparent_auc"] == trained.training["apparent_auc"]
    assert got.attrs["training"]["final_loss"] == trained.training["final_loss"]
    ref = deep.extract_deep_features(dev, trained).drop(columns=["cohort"])
    merged = got.merge(ref, on=["patient_id", "reader"], suffixes=("", "_ref"))
    assert len(merged) == len(dev)
    names = trained.feature_names
    np.testing.assert_allclose(merged[names].to_numpy(),
                               merged[[f"{n}_ref" for n in names]].to_numpy(), atol=1e-5)


def test_refit_on_a_resample(study: tuple[pd.DataFrame, pd.Series],
                             trained: deep.DeepModel) -> None:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    refit = deep_refit.prepare_refit(dev, trained.config)
    ids = np.array(sorted(set(dev["patient_id"])))
    idx = np.sort(np.random.default_rng(4).integers(0, len(ids), size=len(ids)))
    boot = ids[idx]
    yb = y.loc[boot].to_numpy()
    a = refit.features(boot, yb, seed=7)
    b = refit.features(boot, yb, seed=7)
    pd.testing.assert_frame_equal(a, b, check_exact=True)         # reproducible
    full = refit.features(ids, y.loc[ids].to_numpy(), seed=7)
    assert a.attrs["training"]["n"] == len(boot)                   # repeats are trained twice
    assert not np.allclose(a.filter(like="deep_").to_numpy(),
                           full.filter(like="deep_").to_numpy())   # another network
    with pytest.raises(InputError, match="no development scan for patient.*nobody"):
        refit.features([*boot[:-1], "nobody"], yb, seed=1)
    with pytest.raises(InputError, match="labels"):
        refit.features(boot, yb[:-1], seed=1)
    with pytest.raises(InputError, match="labels"):
        refit.features(boot, np.zeros(len(boot)), seed=1)          # one class


def test_deep_json_follows_data_dictionary(tmp_path: Path, trained: deep.DeepModel) -> None:
    _, cpath = trained.save(tmp_path)
    doc = yaml.safe_load((ROOT / "data-dictionary" / "deep_config.yaml").read_text())
    schema = doc["schema"]
    saved = json.loads(cpath.read_text())
    # the documented keys are exactly the written ones, and the config is DeepConfig
    assert set(saved) <= set(schema["properties"]) and set(schema["required"]) <= set(saved)
    assert set(schema["properties"]["config"]["properties"]) == set(deep.DeepConfig.model_fields)
    assert set(saved["config"]) <= set(deep.DeepConfig.model_fields) | {
        "normalisation_constants"}


def test_tampered_or_missing_files_are_refused(tmp_path: Path,
                                               trained: deep.DeepModel) -> None:
    wpath, cpath = trained.save(tmp_path)
    data = bytearray(wpath.read_bytes())
    data[-1] ^= 0x01
    wpath.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        deep.load_deep_model(wpath)
    trained.save(tmp_path)  # restore
    meta = json.loads(cpath.read_text())
    meta["format"] = "something-else"
    cpath.write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="not a radval deep-model"):
        deep.load_deep_model(wpath)
    trained.save(tmp_path)
    meta = json.loads(cpath.read_text())
    meta["config"]["feature_dim"] = 9  # weights no longer fit the architecture
    meta["weights_sha256"] = None
    with pytest.raises(BundleError, match="do not fit"):
        deep.load_deep_model(wpath, meta)
    with pytest.raises(MissingInputError):
        deep.load_deep_model(tmp_path / "nope.safetensors")


def _toy_case(folder: Path, i: int, hu: float) -> dict[str, object]:
    """A 40^3 image at 1 mm with a 6 mm-radius sphere of ``hu`` HU in fat."""
    zz, yy, xx = np.mgrid[:40, :40, :40]
    rng = np.random.default_rng(i)
    c = rng.uniform(15, 25, size=3)
    sphere = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= 36
    arr = np.where(sphere, hu, -90.0) + rng.normal(0, 5, sphere.shape)
    img = sitk.GetImageFromArray(arr.astype(np.int16))
    msk = sitk.GetImageFromArray(sphere.astype(np.uint8))
    sitk.WriteImage(img, str(folder / f"img{i}.nii.gz"))
    sitk.WriteImage(msk, str(folder / f"msk{i}.nii.gz"))
    return {"patient_id": f"p{i}", "cohort": "dev", "image": f"img{i}.nii.gz",
            "mask": f"msk{i}.nii.gz"}


def test_network_learns_a_separable_problem(tmp_path: Path) -> None:
    """Bright (200 HU) vs. faint (60 HU) tumours: training must separate them."""
    from radval.io.manifest import prepare_manifest

    rows, y = [], []
    for i in range(16):
        label = i % 2
        rows.append(_toy_case(tmp_path, i, 200.0 if label else 60.0))
        y.append(label)
    man = prepare_manifest(pd.DataFrame(rows), root=tmp_path)
    cfg = {**FAST, "crop_size": 16, "spacing_mm": 1.0, "epochs": 25, "lr": 5e-3,
           "channels": (4, 8)}
    model = deep.train_deep_model(man, y, config=cfg, seed=0)
    assert model.training["apparent_auc"] == 1.0
    assert model.training["loss_history"][-1] < model.training["loss_history"][0]


def test_crop_geometry_and_window(tmp_path: Path) -> None:
    """A crop is centred on the mask centroid; HU map linearly into the window."""
    arr = np.full((30, 30, 30), 70, dtype=np.int16)  # (70 + 100) / 340 = 0.5
    m = np.zeros_like(arr, dtype=np.uint8)
    m[10:15, 12:17, 0:3] = 1  # centroid (z, y, x) = (12, 14, 1) voxels, at the image's x edge
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((2.0, 2.0, 2.0))
    img.SetOrigin((11.0, -3.0, 5.0))  # x of voxel centres: 11, 13, ...; centroid x = 13 mm
    msk = sitk.GetImageFromArray(m)
    msk.CopyInformation(img)
    sitk.WriteImage(img, str(tmp_path / "i.nii.gz"))
    sitk.WriteImage(msk, str(tmp_path / "m.nii.gz"))
    man = pd.DataFrame([{"patient_id": "a", "cohort": "x", "image": "i.nii.gz",
                         "mask": "m.nii.gz"}])
    from radval.io.manifest import prepare_manifest

    cfg = deep.DeepConfig(crop_size=16, channels=(4, 8), spacing_mm=1.0)
    crops, rows, fails = deep.build_crops(prepare_manifest(man, root=tmp_path), cfg)
    assert crops.shape == (1, 2, 16, 16, 16) and fails.empty
    assert list(rows["patient_id"]) == ["a"]
    x, mk = crops[0]
    # crop voxel i sits at centroid + (i - 7.5) mm along each axis
    assert np.allclose(mk[7:9, 7:9, 7:9], 1.0)
    prof = mk[7, :, 7]  # along y (mask fully inside the image): symmetric about 7.5
    assert prof.max() == 1.0 and prof.min() == 0.0
    assert np.allclose(prof, prof[::-1], atol=1e-5)
    # x = 13 + (i - 7.5) mm: i >= 8 inside the image -> (70 + 100) / 340 = 0.5 ...
    assert np.allclose(x[:, :, 8:], 0.5, atol=1e-6)
    # ... i <= 3 (x <= 8.5 mm, left of the first voxel's edge at 10 mm) is outside:
    # -1024 HU, clipped to the window's low end -> 0
    assert np.allclose(x[:, :, :4], 0.0)


def test_crops_are_built_once_per_file_version(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """radval run crops the development scans for the network, then again for the optimism
    bootstrap: the second time they come from memory, unless the file or the settings
    changed."""
    from radval.features import _deep_crops
    from radval.io.manifest import prepare_manifest

    man = prepare_manifest(pd.DataFrame([_toy_case(tmp_path, i, 100.0) for i in range(3)]),
                           root=tmp_path)
    cfg = deep.DeepConfig(crop_size=16, channels=(4, 8), spacing_mm=1.0)
    monkeypatch.setattr(_deep_crops, "_MEMO", _deep_crops._CropMemo(2**20))
    built: list[str] = []
    crop_one = _deep_crops._crop_one

    def counted(*args: Any) -> Any:
        built.append(Path(args[0]).name)
        return crop_one(*args)

    monkeypatch.setattr(_deep_crops, "_crop_one", counted)
    first, _, _ = deep.build_crops(man, cfg, margin=2)
    again, _, _ = deep.build_crops(man, cfg, margin=2, jobs=2)
    assert len(built) == 3 and np.array_equal(first, again) and again.flags.writeable
    deep.build_crops(man, cfg, margin=0)  # other settings
    assert len(built) == 6
    _toy_case(tmp_path, 1, 300.0)  # the scan of p1 written again
    third, _, _ = deep.build_crops(man, cfg, margin=2)
    assert built[6:] == ["img1.nii.gz"]
    assert np.array_equal(third[0], first[0]) and not np.array_equal(third[1], first[1])
    small = _deep_crops._CropMemo(first[0].nbytes)  # room for one crop: oldest dropped
    small.put(("a",), first[0])
    small.put(("b",), first[1])
    assert small.get(("a",)) is None and small.get(("b",)) is not None


def test_non_finite_or_damaged_images_are_failures(tmp_path: Path) -> None:
    """NaN near the tumour (kept from the NIfTI file) or a truncated file: a failure row
    without absolute paths, never NaN network input."""
    from radval.io.manifest import prepare_manifest

    rows = []
    for name, bad in (("nan", np.nan), ("inf", np.inf), ("cut", None), ("ok", None)):
        arr = np.full((30, 30, 30), 70.0, dtype=np.float32)
        m = np.zeros(arr.shape, dtype=np.uint8)
        m[12:18, 12:18, 12:18] = 1
        if bad is not None:
            arr[15, 15, 19] = bad  # just outside the mask, inside the crop
        sitk.WriteImage(sitk.GetImageFromArray(arr), str(tmp_path / f"{name}.nii.gz"))
        sitk.WriteImage(sitk.GetImageFromArray(m), str(tmp_path / f"{name}_m.nii.gz"))
        rows.append({"patient_id": name, "cohort": "x", "image": f"{name}.nii.gz",
                     "mask": f"{name}_m.nii.gz"})
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(cut.read_bytes()[:-30])
    cfg = deep.DeepConfig(crop_size=16, channels=(4, 8), spacing_mm=1.0)
    crops, ok, fails = deep.build_crops(prepare_manifest(pd.DataFrame(rows), root=tmp_path),
                                        cfg)
    assert list(ok["patient_id"]) == ["ok"] and np.isfinite(crops).all()
    reasons = dict(zip(fails["patient_id"], fails["reason"], strict=True))
    assert set(reasons) == {"nan", "inf", "cut"}
    assert "NaN or infinite" in reasons["nan"] and "NaN or infinite" in reasons["inf"]
    assert "damaged file" in reasons["cut"]
    assert not any(str(tmp_path) in r for r in reasons.values())


def test_failures_are_reported(tmp_path: Path, study: tuple[pd.DataFrame, pd.Series],
                               trained: deep.DeepModel) -> None:
    man, _ = study
    bad = man.head(3).copy()
    bad.loc[bad.index[1], "image_path"] = str(tmp_path / "missing.nii.gz")
    feats = deep.extract_deep_features(bad, trained)
    assert len(feats) == 2
    fails = feats.attrs["failures"]
    assert list(fails["patient_id"]) == [bad["patient_id"].iloc[1]]
    assert "not found" in fails["reason"].iloc[0]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"config": {"crop_size": 20}}, ConfigError, "multiple"),
    ({"config": {"unknown_key": 1}}, ConfigError, "unknown_key"),
    ({"config": {"window": (200, 100)}}, ConfigError, "low < high"),
    ({"seed": -1}, InputError, "seed"),
    ({"device": "tpu"}, InputError, "device"),
])
def test_invalid_arguments(study: tuple[pd.DataFrame, pd.Series], kwargs: dict[str, object],
                           exc: type[Exception], match: str) -> None:
    man, y = study
    with pytest.raises(exc, match=match):
        deep.train_deep_model(man, y, **kwargs)  # type: ignore[arg-type]


def test_invalid_labels(study: tuple[pd.DataFrame, pd.Series]) -> None:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    with pytest.raises(InputError, match="no label"):
        deep.train_deep_model(dev, y.iloc[:3], config=FAST)
    with pytest.raises(InputError, match="both classes"):
        deep.train_deep_model(dev, y * 0, config=FAST)
    with pytest.raises(DataError, match="usable"):
        deep.train_deep_model(dev.head(2), y, config=FAST)


def test_import_is_light() -> None:
    code = ("import sys, radval.features.deep; "
            "bad = [m for m in ('torch', 'SimpleITK', 'radiomics') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_zscore_normalisation_roundtrip(tmp_path: Path,
                                        study: tuple[pd.DataFrame, pd.Series]) -> None:
    man, y = study
    dev = man[man["cohort"] == "centre1_train"]
    model = deep.train_deep_model(dev, y, config={**FAST, "epochs": 1,
                                                  "normalisation": "window_zscore"}, seed=2)
    crops, _, _ = deep.build_crops(dev[dev["reader"] == "1"], model.config)
    assert model.norm_mean != 0.0 and model.norm_sd != 1.0
    # constants are the training crops' image-channel mean / SD
    x = crops[:, 0].astype(np.float64)
    assert model.norm_mean == pytest.approx(x.mean(), rel=1e-6)
    assert model.norm_sd == pytest.approx(x.std(), rel=1e-6)
    model.save(tmp_path)
    loaded = deep.load_deep_model(tmp_path)
    assert (loaded.norm_mean, loaded.norm_sd) == (model.norm_mean, model.norm_sd)
    pd.testing.assert_frame_equal(deep.extract_deep_features(man, model),
                                  deep.extract_deep_features(man, loaded), check_exact=True)
