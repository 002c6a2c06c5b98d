"""Test-wide settings: offline hub, and generated data and runs kept out of
the checkout (each test session gets its own cache)."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    if "FAIRNB_TEST_DATA_DIR" in os.environ:  # reuse a cache across runs
        mp.setenv("FAIRNB_DATA_DIR", os.environ["FAIRNB_TEST_DATA_DIR"])
    else:
        mp.setenv("FAIRNB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    mp.setenv("FAIRNB_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def smoke_splits():
    """The smoke dataset (notes cut, no summarizing) as fairnb-tiny splits:
    ``(bundle, {"train", "val", "test"})``."""
    import fairnb as fnb
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    data = {s: fnb.load_split(ds, s, image_size=bundle.image_size,
                              tokenizer=bundle.tokenizer)
            for s in ("train", "val", "test")}
    return bundle, data
