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
    assert "data_dir, bias, split, attributes, preset" in msg


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
    ({"preset": "demoo"}, ["smoke, demo, workshop, paper",
                           "Did you mean 'demo'"]),
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


def test_official_protocol_fills_what_was_not_chosen():
    from fairnb.config import FairCLIPConfig
    from fairnb.protocols import PROTOCOLS
    cfg = FairCLIPConfig.create(protocol="official")
    for name, value in PROTOCOLS["official"].items():
        assert getattr(cfg, name) == value, name
    assert cfg.deviations() == {}
    mine = FairCLIPConfig.create(protocol="official", explicit={"grad_clip"},
                                 grad_clip=1.0)
    assert mine.grad_clip == 1.0 and mine.sampler == "plain"
    assert mine.deviations() == {"grad_clip": (1.0, 0.0)}
    paper = FairCLIPConfig.create(preset="paper")
    assert (paper.protocol, paper.model, paper.pretrained, paper.lr) == (
        "official", "ViT-B-16", "openai", 1e-5)
    assert FairCLIPConfig.create().deviations() == {}  # fairnb defaults


def test_method_options_reach_the_method_and_are_checked():
    from fairnb.config import ConfigError, FairCLIPConfig
    cfg = FairCLIPConfig.create(method="fairclip",
                                method_options="min_group=3,backend='pot'")
    assert cfg.method_kwargs()["min_group"] == 3
    assert FairCLIPConfig.create(
        method="fairclip", method_options='{"min_group": 4}'
    ).method_kwargs()["min_group"] == 4
    assert "fair_weight" not in FairCLIPConfig.create(
        method="clip").method_kwargs()
    with pytest.raises(ConfigError, match="not options of method 'clip'"):
        FairCLIPConfig.create(method="clip", method_options="shrink=1")
    with pytest.raises(ConfigError, match="clip, fairclip, fairclip_plus"):
        FairCLIPConfig.create(method="fairclipp")


@pytest.mark.parametrize("values, words", [
    ({"bias_levels": "0,2.4"}, ["Bad value in 'bias_levels'",
                                "[0, 2.375]"]),
    ({"bias_levels": "0,1,0"}, ["repeats a level"]),
    ({"bias_levels": "none"}, ["numbers from 0"]),
    ({"bias_levels": "0,2", "data_dir": "x"}, ["leave data_dir empty"]),
    ({"grid_options": "bias:0|1"}, ["a data condition", "bias_levels"]),
])
def test_06_bias_levels_are_checked(values, words):
    from fairnb.config import CompareConfig
    with pytest.raises(ConfigError) as err:
        CompareConfig.create(preset="smoke", **values)
    for w in words:
        assert w in str(err.value)


def test_06_bias_levels_are_a_grid_axis_and_a_condition():
    from fairnb.config import CompareConfig
    cfg = CompareConfig.create(preset="smoke", bias_levels="0,2")
    cells = cfg.cells()
    assert len(cells) == 2 * 2 * 2  # methods x seeds x levels
    assert sorted({c.parameters["bias"] for c in cells}) == [0.0, 2.0]
    assert cfg.conditions == ["bias"]
    assert CompareConfig.create(preset="smoke").conditions == []
    assert all("bias" not in c.parameters for c in
               CompareConfig.create(preset="smoke").cells())


def test_a_method_default_fills_what_nobody_set():
    from fairnb.config import FairCLIPConfig
    assert FairCLIPConfig.create(method="dbpm").fair_weight == 0.1
    assert FairCLIPConfig.create(method="fairclip").fair_weight == 10.0
    explicit = FairCLIPConfig.create(explicit={"fair_weight"}, method="dbpm",
                                     fair_weight=10.0)
    assert explicit.fair_weight == 10.0  # -p fair_weight 10 wins
    official = FairCLIPConfig.create(method="dbpm", protocol="official")
    assert official.fair_weight == 1e-6  # the protocol's, not the method's


def test_a_session_preset_fills_a_cell_left_at_demo(monkeypatch, capsys):
    """make lab PRESET=workshop: the notebooks' cells say demo, the
    session's preset applies (03's workshop epochs); -p preset wins."""
    from fairnb.config import FairCLIPConfig
    cell = {"preset": "demo", "epochs": 6, "method": "fairclip"}
    monkeypatch.setenv("FAIRNB_PRESET", "workshop")
    cfg = FairCLIPConfig.from_namespace(dict(cell))
    assert (cfg.preset, cfg.epochs) == ("workshop", 3)
    assert "FAIRNB_PRESET" in capsys.readouterr().out
    injected = '# Parameters\npreset = "smoke"\n'
    cfg = FairCLIPConfig.from_namespace(
        {**cell, "preset": "smoke", "In": [injected]})
    assert (cfg.preset, cfg.epochs) == ("smoke", 2)
    cfg = FairCLIPConfig.from_namespace({**cell, "preset": "paper"})
    assert cfg.preset == "paper"  # edited in the cell
    monkeypatch.setenv("FAIRNB_PRESET", "worksop")
    with pytest.raises(ConfigError, match="Did you mean 'workshop'"):
        FairCLIPConfig.from_namespace(dict(cell))
