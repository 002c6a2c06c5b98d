import pytest

from fairnb.config import ConfigError, ExploreConfig, injected_names

INJECTED = '# Parameters\npreset = "smoke"\natribute = "race"\n'


def test_defaults_validate():
    cfg = ExploreConfig.create()
    assert cfg.preset == "demo"
    assert cfg.attributes == ["race", "gender", "ethnicity", "language",
                              "maritalstatus"]


def test_injected_names_reads_papermill_cell_from_history():
    ns = {"In": ["", "x = 1", INJECTED, "import fairnb"]}
    assert injected_names(ns) == ["preset", "atribute"]
    assert injected_names({}) == []


def test_unknown_injected_parameter_fails_with_closest_match():
    ns = {"In": ["", INJECTED], "preset": "smoke", "atribute": "race",
          "data_dir": "", "split": "all", "attributes": "all"}
    with pytest.raises(ConfigError) as err:
        ExploreConfig.from_namespace(ns)
    msg = str(err.value)
    assert "'atribute'" in msg and "did you mean 'attributes'" in msg
    assert "data_dir, split, attributes, preset" in msg


def test_namespace_values_are_taken():
    ns = {"In": ["", '# Parameters\nsplit = "test"\n'], "split": "test",
          "preset": "smoke", "attributes": "race,gender", "data_dir": "",
          "other_variable": 3}
    cfg = ExploreConfig.from_namespace(ns)
    assert (cfg.split, cfg.preset) == ("test", "smoke")
    assert cfg.attributes == ["race", "gender"]


@pytest.mark.parametrize("kw, words", [
    ({"split": "tset"}, ["'split'", "all, train, val, test",
                         "Did you mean 'test'"]),
    ({"preset": "demoo"}, ["smoke, demo, paper", "Did you mean 'demo'"]),
    ({"attributes": "raec"}, ["'attributes'", "Did you mean 'race'"]),
    ({"n_examples": 0}, ["'n_examples'", "out of range"]),
    ({"n_examples": "three"}, ["must be int"]),
    ({"atribute": "race"}, ["did you mean 'attributes'"]),
])
def test_bad_values_name_the_fix(kw, words):
    with pytest.raises(ConfigError) as err:
        ExploreConfig.create(**kw)
    for w in words:
        assert w in str(err.value)
