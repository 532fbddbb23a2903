import pytest

from rag import Config, ConfigError


def test_defaults_are_valid_and_documented():
    config = Config()
    assert config.chunk_tokens == 256
    assert config.build_settings() == {"model": "all-MiniLM-L6-v2", "chunk_tokens": 256,
                                       "chunk_overlap": 32, "part_model": None}
    assert Config.__doc__ and "chunk_tokens" in Config.__doc__


def test_unknown_keys_are_errors_naming_the_key():
    with pytest.raises(ConfigError, match="chunk_size"):
        Config.from_dict({"chunk_size": 100})


@pytest.mark.parametrize("bad", [{"k": 0}, {"chunk_tokens": 8}, {"chunk_overlap": 200},
                                 {"max_quotes": 0}, {"model": " "}])
def test_bad_values_are_rejected(bad):
    with pytest.raises(ConfigError):
        Config.from_dict(bad)


def test_replace_validates():
    assert Config().replace(k=3).k == 3
    with pytest.raises(ConfigError):
        Config().replace(k=-1)


def test_every_setting_is_documented_in_its_group():
    import dataclasses

    doc = Config.__doc__ or ""
    tuning_at = doc.index("Retrieval tuning")
    for field in dataclasses.fields(Config):
        at = doc.find(f"- ``{field.name}``:")
        assert at >= 0, f"Config's docstring does not describe {field.name}"
        # The benchmark-tuned knobs stand apart from what a user sets.
        assert (at > tuning_at) == (field.name in Config.TUNING), field.name
    assert set(Config.TUNING).isdisjoint(Config().build_settings())
