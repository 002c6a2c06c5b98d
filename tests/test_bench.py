"""The benchmark's statistics: interleaved timing gives the ratio of two
steps whatever the machine's drift does, and its table runs."""
import time

import pytest

from bench.steps import interleaved_ratio


def test_interleaving_recovers_a_known_ratio_under_drift():
    """b costs twice a; the machine slows down 3x over the run (drift):
    block timing would confound the two, pairs do not."""
    calls = {"n": 0}

    def slowdown():
        calls["n"] += 1
        return 1 + 2 * calls["n"] / 40

    def a(batch):
        time.sleep(0.01 * slowdown())

    def b(batch):
        time.sleep(0.02 * slowdown())

    r = interleaved_ratio(a, b, range(22), warmup=2)
    assert r.pairs == 20
    assert r.median == pytest.approx(2.0, rel=0.2)
    assert r.q25 <= r.median <= r.q75
    assert r.b_s > r.a_s


def test_each_variant_sees_the_same_batch_alternately():
    seen = []
    interleaved_ratio(lambda i: seen.append(("a", i)),
                      lambda i: seen.append(("b", i)), range(4), warmup=0)
    assert seen == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2),
                    ("b", 2), ("b", 3), ("a", 3)]


@pytest.mark.parametrize("preset", ["smoke", "demo", "workshop"])
def test_the_timed_03_keeps_weights_for_the_05_after_it(preset):
    """bench.notebooks runs 05 after 03: the smoke preset keeps no
    checkpoint, so the timed 03 must ask for one."""
    from bench.notebooks import notebook_parameters
    from fairnb.config import FairCLIPConfig
    params = notebook_parameters("03_fairclip", preset)
    cfg = FairCLIPConfig.create(explicit=set(params) - {"preset"}, **params)
    assert cfg.preset == preset and cfg.keep in ("best", "both")
    assert notebook_parameters("05_linear_probe", preset) == {
        "preset": preset}
