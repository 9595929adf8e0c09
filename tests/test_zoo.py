"""Pretrained files are found in the source checkout or in the weights cache; when absent, the error says where."""

from __future__ import annotations

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.models import zoo


def test_shipped_model_is_found_in_the_source_checkout():
    assert zoo.shipped_model() == zoo.source_zoo_dir() / zoo.SHIPPED_MODEL


def test_a_file_copied_into_the_weights_cache_is_found_without_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "source_zoo_dir", lambda: tmp_path / "no-checkout")
    monkeypatch.setenv("FER_BENCH_WEIGHTS", str(tmp_path / "cache"))
    with pytest.raises(FerBenchError) as err:
        zoo.shipped_model()
    msg = str(err.value)
    assert "pip install -e ." in msg and f"{tmp_path / 'cache' / 'pretrained'}/" in msg and "\n" not in msg
    (tmp_path / "cache" / "pretrained").mkdir(parents=True)
    (tmp_path / "cache" / "pretrained" / zoo.SHIPPED_MODEL).write_bytes(b"weights")
    assert zoo.shipped_model() == tmp_path / "cache" / "pretrained" / zoo.SHIPPED_MODEL
    assert zoo.find_pretrained(zoo.SHIPPED_MODEL.removesuffix(".keras")) == zoo.shipped_model()  # by stem too
    assert zoo.find_pretrained("nothing_like_it") is None


def test_video_model_names_and_missing_paths_get_the_right_hint(tmp_path, monkeypatch):
    from fer_bench.video.deep import resolve_model_path

    assert resolve_model_path(None) == zoo.source_zoo_dir() / "fer2013_fer_vgg_ens2_48.keras"
    assert resolve_model_path("fer2013_fer_vgg_ens2_48") == resolve_model_path(None)
    with pytest.raises(FerBenchError) as err:
        resolve_model_path(tmp_path / "runs" / "x" / "model.keras")  # a mistyped path: no zoo advice
    assert "copy model_zoo" not in str(err.value) and "pass an existing" in str(err.value)
    with pytest.raises(FerBenchError) as err:
        resolve_model_path("no_such_zoo_model")
    assert "copy model_zoo/pretrained/no_such_zoo_model.keras from the repository" in str(err.value)
