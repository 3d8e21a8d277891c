"""FMD and FMD-Inf (pipeline.eval.frechet) against the frechet-music-distance package itself, on the
same fixed feature arrays: the package's public score/score_inf run with a feature extractor that
hands it those arrays (its CLaMP 2 extractor downloads weights; the maths do not depend on it)."""

import numpy as np
import pytest

from pipeline.eval.frechet import FrechetError, fmd, fmd_inf, gaussian

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

DIM = 32


def features(n: int, seed: int, shift: float = 0.0, dim: int = DIM) -> np.ndarray:
    """Correlated, anisotropic float32 features like CLaMP 2's (not unit-normalised)."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).standard_normal((dim, dim)) / np.sqrt(dim)
    return (rng.standard_normal((n, dim)) @ mix * np.linspace(0.2, 1.0, dim) + shift).astype(np.float32)


REF, TEST = features(300, 1), features(260, 2, shift=0.05)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The package with its joblib caches off and its home-directory cache pointed at a tmp dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        import frechet_music_distance as fmd_pkg
        import joblib
        from frechet_music_distance.gaussian_estimators import gaussian_estimator
        from frechet_music_distance.models import feature_extractor

        off = joblib.Memory(None, verbose=0)
        mp.setattr(gaussian_estimator, "MEMORY", off)
        mp.setattr(feature_extractor, "MEMORY", off)

        class Given(feature_extractor.FeatureExtractor):
            """Returns the array registered under a 'path' (no files, no model)."""

            def __init__(self, arrays):
                super().__init__(verbose=False)
                self.arrays = arrays

            def _extract_feature(self, data):
                return data

            def extract_features(self, dataset_path):
                return self.arrays[str(dataset_path)]

            def extract_feature(self, filepath):
                return self.arrays[str(filepath)][:1]

        def make(estimator: str = "mle", ref: np.ndarray = REF, test: np.ndarray = TEST):
            return fmd_pkg.FrechetMusicDistance(Given({"ref": ref, "test": test}), estimator, verbose=False)

        yield make


@pytest.mark.parametrize("estimator", ["mle", "shrinkage", "oas", "leodit_wolf"])
def test_fmd_equals_the_package(package, estimator):
    """float64 features: the same number to 1e-9. float32 (CLaMP 2's): the package keeps float32 in
    its mean and scikit-learn's covariances while we compute in float64, so they agree to 1e-5."""
    want64 = package(estimator, REF.astype(np.float64), TEST.astype(np.float64)).score("ref", "test")
    assert want64 > 0.1
    assert fmd(REF.astype(np.float64), TEST.astype(np.float64), estimator) == pytest.approx(want64, rel=1e-9)
    want32 = package(estimator).score("ref", "test")
    assert fmd(REF, TEST, estimator) == pytest.approx(want32, rel=1e-5)


def test_bootstrap_estimator_equals_the_package_under_one_seed(package, monkeypatch):
    """The package's bootstrap draws from an unseeded generator: give it ours, then compare."""
    seeded = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *a: seeded(7))
    ref_est = package("bootstrap")._gaussian_estimator
    want_mu, want_cov = ref_est.estimate_parameters(REF)
    monkeypatch.undo()
    mu, cov = gaussian(REF, "bootstrap", seed=7)
    np.testing.assert_allclose(mu, want_mu, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cov, want_cov, rtol=1e-5, atol=1e-8)


def test_fmd_inf_equals_the_package_on_the_same_draws(package, monkeypatch):
    seeded = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *a: seeded(3))
    want = package().score_inf("ref", "test", steps=6, min_n=60)
    monkeypatch.undo()
    got = fmd_inf(REF, TEST, steps=6, min_n=60, seed=3)
    assert [n for n, _ in got["points"]] == [n for n, _ in want.points] == [60, 100, 140, 180, 220, 260]
    np.testing.assert_allclose([s for _, s in got["points"]], [s for _, s in want.points], rtol=1e-6)
    assert got["fmd_inf"] == pytest.approx(want.score, rel=1e-5, abs=1e-8)
    assert got["slope"] == pytest.approx(want.slope, rel=1e-5) and got["r2"] == pytest.approx(want.r2, rel=1e-5)
    # the extrapolation: finite-sample FMD falls towards FMD-Inf as n grows (bias ~ 1/n)
    assert got["slope"] > 0 and got["fmd_inf"] < got["points"][-1][1] < got["points"][0][1]


def test_fmd_sees_a_shift_and_is_zero_on_identical_sets():
    assert fmd(REF, REF) == pytest.approx(0.0, abs=1e-8)
    assert fmd(REF, features(300, 3, shift=0.5)) > 10 * fmd(REF, features(300, 3))


def test_few_pieces_need_a_shrinkage_estimator():
    """n < dim: MLE covariances are singular; shrinkage estimators stay finite and stable."""
    few_ref, few_test = features(20, 4, dim=48), features(20, 5, dim=48)
    for est in ("shrinkage", "oas", "ledoit_wolf"):
        assert np.isfinite(fmd(few_ref, few_test, est))
    assert np.linalg.matrix_rank(gaussian(few_ref)[1]) < 48


def test_bad_inputs_get_one_clear_error():
    with pytest.raises(FrechetError, match="unknown Gaussian estimator 'ml'"):
        fmd(REF, TEST, "ml")
    with pytest.raises(FrechetError, match="min_n=500 and 260 pieces"):
        fmd_inf(REF, TEST)
    with pytest.raises(FrechetError, match="widths differ"):
        fmd(REF, features(50, 1, dim=16))
    with pytest.raises(FrechetError, match="NaN"):
        fmd(REF, np.full((5, DIM), np.nan))
