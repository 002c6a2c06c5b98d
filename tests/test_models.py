import pytest
import torch

from fairnb import models


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return models.create_model("fairnb-tiny")


def test_tiny_config_is_registered_and_sized(tiny):
    assert "fairnb-tiny" in models.available_models()[:3]
    assert tiny.image_size == 64 and tiny.context_length == 77
    assert tiny.tokenizer(["A photo of glaucoma"]).shape == (1, 77)
    img, txt, scale = tiny.model(torch.zeros(2, 3, 64, 64),
                                 tiny.tokenizer(["a", "b"]))
    assert img.shape == txt.shape == (2, 128)


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="Did you mean 'ViT-B-16'"):
        models.create_model("ViT-B-61")


def test_unknown_tag_lists_the_tags():
    with pytest.raises(ValueError, match="openai"):
        models.create_model("ViT-B-16", pretrained="opneai")


def test_uncached_weights_fail_fast_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "hub_reachable", lambda **kw: False)
    with pytest.raises(RuntimeError) as err:
        models.create_model("RN50", pretrained="openai")
    assert "pretrained=<file>" in str(err.value)
    assert "create_model_and_transforms('RN50'" in str(err.value)


@pytest.mark.parametrize("wrap", ["raw", "model", "model_state_dict",
                                  "state_dict_module", "safetensors"])
def test_checkpoint_formats_load(tmp_path, tiny, wrap):
    state = {k: v + 1.0 if v.is_floating_point() else v
             for k, v in tiny.model.state_dict().items()}
    path = tmp_path / "ckpt.pt"
    if wrap == "raw":
        torch.save(state, path)
    elif wrap == "state_dict_module":
        torch.save({"state_dict": {f"module.{k}": v
                                   for k, v in state.items()}}, path)
    elif wrap == "safetensors":
        from safetensors.torch import save_file
        path = tmp_path / "ckpt.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:  # fairnb ("model") and official FairCLIP ("model_state_dict")
        torch.save({wrap: state, "epoch": 3}, path)
    loaded = models.create_model("fairnb-tiny", pretrained=str(path))
    assert loaded.pretrained == str(path)
    for k, v in loaded.model.state_dict().items():
        torch.testing.assert_close(v, state[k])


def test_checkpoint_of_another_model_says_so(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model_state_dict": {"visual.proj": torch.zeros(3)}}, path)
    with pytest.raises(RuntimeError, match="does not fit model fairnb-tiny"):
        models.create_model("fairnb-tiny", pretrained=str(path))


def test_seed_fixes_the_random_init_and_spares_the_global_rng():
    def weights(seed):
        model = models.create_model("fairnb-tiny", seed=seed).model
        return torch.cat([p.detach().flatten()
                          for p in model.parameters()])

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a, b, c = weights(0), weights(0), weights(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.fixture(scope="module")
def vit_b16_quickgelu():
    """A randomly initialised ViT-B-16 built as the OpenAI weights are."""
    import open_clip
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16", force_quick_gelu=True)
    return model.eval()


def _features(model):
    g = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 224, 224, generator=g)
    with torch.no_grad():
        return model.encode_image(images)


@pytest.mark.parametrize("wrap", ["fairnb", "official"])
def test_vit_b16_checkpoints_reload_with_quickgelu(tmp_path, wrap,
                                                   vit_b16_quickgelu):
    """fairnb records QuickGELU; an official FairCLIP checkpoint
    (model_state_dict) of an OpenAI architecture is assumed to use it."""
    model = vit_b16_quickgelu
    path = tmp_path / "vit.pt"
    state = model.state_dict()
    torch.save({"model": state, "quick_gelu": True} if wrap == "fairnb"
               else {"model_state_dict": state, "epoch": 3}, path)
    loaded = models.create_model("ViT-B-16", pretrained=str(path))
    assert loaded.quick_gelu
    torch.testing.assert_close(_features(loaded.model.eval()),
                               _features(model), rtol=0, atol=0)
    del loaded
    # the same weights under plain GELU give other features: the check
    # above can fail
    import open_clip
    gelu = open_clip.create_model("ViT-B-16")
    gelu.load_state_dict(state)
    assert not torch.allclose(_features(gelu.eval()), _features(model),
                              atol=1e-4)


def test_tiny_bundle_records_its_activation(tiny):
    assert tiny.quick_gelu == models.uses_quick_gelu(tiny.model)
    assert models.checkpoint_quick_gelu("fairnb-tiny", {"quick_gelu": False}
                                        ) is False
    assert models.checkpoint_quick_gelu("ViT-B-16", {"format": "raw"}) is None
