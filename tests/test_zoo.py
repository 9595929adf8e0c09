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
