"""Settings: rag.toml, RAG_* variables and named presets, highest first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import SettingsError
from rag.settings import CONFIG_FILE_ENV, PRESETS, Settings, load_settings


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rag.toml of the test's own (empty until written) and no RAG_* variables."""
    for name in [key for key in os.environ if key.startswith("RAG_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "rag.toml"
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    return config


def test_the_fast_preset_is_the_field_defaults() -> None:
    assert load_settings() == Settings()
    assert load_settings(preset="fast") == Settings()


def test_the_quality_preset_sets_its_fields_and_leaves_the_rest() -> None:
    quality = load_settings(preset="quality")
    for name, value in PRESETS["quality"].items():
        assert getattr(quality, name) == value
    assert quality.embedding_model == "package:embeddinggemma"
    assert quality.top_k == Settings().top_k  # not part of the preset


def test_a_setting_given_explicitly_wins_over_the_preset(
    no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_config.write_text('preset = "quality"\nchunk_tokens = 300\n')
    monkeypatch.setenv("RAG_LEXICAL_WEIGHT", "0.5")
    settings = load_settings(index_dir=Path("elsewhere"))
    assert settings.preset == "quality"
    assert settings.fusion == "zscore"  # from the preset
    assert settings.chunk_tokens == 300  # rag.toml
    assert settings.lexical_weight == 0.5  # RAG_*
    assert settings.index_dir == Path("elsewhere")  # the command line


def test_the_preset_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_PRESET", "quality")
    assert load_settings().fusion == "zscore"


def test_an_unknown_preset_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_PRESET", "turbo")
    with pytest.raises(SettingsError, match="preset"):
        load_settings()


def test_a_list_variable_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LIBRARY_PATHS", "/data/reports")
    with pytest.raises(SettingsError, match="library_paths.*written in JSON"):
        load_settings()


def test_variables_that_name_no_setting_are_found_with_the_one_meant() -> None:
    from rag.settings import unknown_variables

    environ = {
        "RAG_TOPK": "8",
        "RAG_TOP_K": "8",
        "RAG_CONFIG": "rag.toml",
        "RAG_POSTGRES__EF_SEARCH": "80",
        "RAG_AUTH_USER": "analyst",
        "RAG_ZZZ": "1",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == ["RAG_TOPK (RAG_TOP_K?)", "RAG_ZZZ"]


def test_a_similarity_threshold_is_a_cosine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MIN_SENTENCE_RELEVANCE", "2.5")
    with pytest.raises(SettingsError, match="min_sentence_relevance"):
        load_settings()


def test_a_folder_under_home_is_under_the_users_home(
    no_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not a folder named "~" in the working directory (a PostgreSQL library's sentence
    vectors once went there)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home = tmp_path / "home"
    assert Settings().model_cache_dir == home / ".cache/rag/models"
    no_config.write_text('index_dir = "~/index"\nlibrary_paths = ["~/reports", "corpus"]\n')
    monkeypatch.setenv("RAG_UPLOAD_DIR", "~/uploads")
    settings = load_settings()
    assert settings.index_dir == home / "index"
    assert settings.library_paths == [home / "reports", Path("corpus")]
    assert settings.upload_dir == home / "uploads"
