"""Linear and attribute probes on features with a known answer; features
from CLIP and from a tiny BLIP-2 saved to disk and loaded back."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fairnb.features import FeatureSet
from fairnb.probes import attribute_probes, logistic_probe, mae_probe


def one_feature(n, seed, *, sigma=1.0):
    """One feature x = y + N(0, sigma^2): AUC = Phi(1 / (sigma sqrt 2))."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    race = rng.integers(0, 3, n)
    X = (y + rng.normal(0, sigma, n))[:, None]
    return FeatureSet(X.astype(np.float32), y, {"race": race}, np.arange(n))


@pytest.mark.parametrize("fit", [logistic_probe,
                                 lambda a, b, c: mae_probe(a, b, c,
                                                           epochs=15)])
def test_a_probe_on_one_informative_feature_ranks_by_it(fit):
    train, val, test = (one_feature(n, s) for n, s in
                        ((800, 0), (400, 1), (4000, 2)))
    result = fit(train, val, test)
    # monotone in the one feature: the probe's AUC is the feature's own
    assert result.test.metrics()["auc"] == pytest.approx(
        roc_auc_score(test.y_true, test.X[:, 0]))
    from scipy.stats import norm
    assert result.test.metrics()["auc"] == pytest.approx(
        norm.cdf(1 / np.sqrt(2)), abs=0.02)
    assert result.choice in result.val_auc
    assert result.val_auc[result.choice] == max(result.val_auc.values())


def test_attribute_probes_find_a_planted_attribute_and_not_noise():
    rng = np.random.default_rng(3)

    def fs(n):
        race = rng.integers(0, 3, n)
        race[:5] = -1  # Unknown is left out
        gender = rng.integers(0, 2, n)
        X = np.c_[np.eye(3)[np.maximum(race, 0)] * 2
                  + rng.normal(0, 0.3, (n, 3)), rng.normal(size=(n, 4))]
        return FeatureSet(X, rng.integers(0, 2, n),
                          {"race": race, "gender": gender}, np.arange(n))

    out = attribute_probes(fs(1500), fs(1500)).set_index("attribute")
    assert out.loc["race", "auc"] > 0.99 and out.loc["race", "n_groups"] == 3
    assert abs(out.loc["gender", "auc"] - 0.5) < 0.05
    assert out.loc["race", "n_test"] == 1495


def test_clip_features_have_the_embedding_width(smoke_splits):
    from fairnb.features import clip_features
    bundle, data = smoke_splits
    img = clip_features(bundle, data["val"], kind="image", device="cpu")
    both = clip_features(bundle, data["val"], kind="multimodal",
                         device="cpu")
    width = bundle.model.visual.output_dim
    assert img.X.shape == (len(data["val"]), width)
    assert both.X.shape == (len(data["val"]), 2 * width)
    np.testing.assert_allclose(np.linalg.norm(img.X, axis=1), 1, atol=1e-5)
    assert img.ids.tolist() == list(data["val"].ids)


def test_blip2_features_through_the_real_loading_path(tiny_blip2,
                                                      smoke_splits):
    import fairnb as fnb
    from fairnb.features import blip2_features, load_blip2
    backbone = load_blip2(tiny_blip2)
    model, processor = backbone.model, backbone.processor
    assert type(model).__name__ == "Blip2Model"
    assert not backbone.text_conditioned
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    _, data = smoke_splits
    img = blip2_features(backbone, ds, "test", kind="image", device="cpu")
    both = blip2_features(backbone, ds, "test", kind="multimodal",
                          device="cpu")
    assert img.ids.tolist() == list(data["test"].ids)  # the same order
    assert img.y_true.tolist() == data["test"].labels.tolist()
    assert img.X.shape == (len(data["test"]), 32)
    assert both.X.shape == (len(data["test"]), 64)
    np.testing.assert_allclose(both.X[:, :32], img.X, rtol=1e-5, atol=1e-6)
    # an independent path: the vision tower's pooled output, and the
    # Q-Former's queries, computed here from the images directly
    import torch
    from PIL import Image
    ids = list(data["test"].ids)[:4]
    px = processor(images=[Image.fromarray(ds.load_image(i)).convert("RGB")
                           for i in ids], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        vision = model.vision_model(pixel_values=px)
        queries = model.qformer(
            query_embeds=model.query_tokens.expand(4, -1, -1),
            encoder_hidden_states=vision.last_hidden_state).last_hidden_state
    np.testing.assert_allclose(img.X[:4], vision.pooler_output.numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(both.X[:4, 32:], queries.mean(1).numpy(),
                               rtol=1e-4, atol=1e-5)
    assert np.isfinite(both.X).all() and img.X.std(axis=0).min() > 0


def test_blip2_retrieval_features_read_image_and_note(tiny_blip2_itm):
    """A retrieval checkpoint's multimodal features are the Q-Former's
    query outputs with the note in its input (LAVIS' multimodal
    embeddings): checked against the Q-Former called here by hand, and
    they change with the text while the image part does not."""
    import torch
    from PIL import Image

    import fairnb as fnb
    from fairnb.data.torch import default_texts
    from fairnb.features import blip2_features, load_blip2
    backbone = load_blip2(tiny_blip2_itm)
    assert backbone.text_conditioned
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    both = blip2_features(backbone, ds, "val", kind="multimodal",
                          device="cpu", batch_size=16)
    assert both.meta["text_conditioned"] and both.X.shape[1] == 64
    model, tok = backbone.model, backbone.tokenizer
    meta = ds.metadata("val")
    ids, texts = meta["id"].tolist()[:3], default_texts(meta)[:3]
    px = backbone.processor(images=[Image.fromarray(ds.load_image(i))
                                    .convert("RGB") for i in ids],
                            return_tensors="pt")["pixel_values"]
    enc = tok(texts, padding=True, truncation=True, max_length=64,
              return_tensors="pt")
    with torch.no_grad():  # by hand: queries and text in one Q-Former pass
        image = model.vision_model(pixel_values=px).last_hidden_state
        queries = model.query_tokens.expand(3, -1, -1)
        mask = torch.cat([torch.ones(3, queries.shape[1], dtype=torch.long),
                          enc["attention_mask"]], dim=1)
        hidden = model.qformer(
            query_embeds=model.embeddings(input_ids=enc["input_ids"],
                                          query_embeds=queries),
            query_length=queries.shape[1], attention_mask=mask,
            encoder_hidden_states=image).last_hidden_state
    np.testing.assert_allclose(both.X[:3, 32:],
                               hidden[:, :4].mean(1).numpy(), rtol=1e-4,
                               atol=1e-5)
    # a checkpoint whose processor prepends image tokens: the same features
    model.config.image_token_index = 3
    tokens_first = blip2_features(backbone, ds, "val", kind="multimodal",
                                  device="cpu", batch_size=16)
    model.config.image_token_index = None
    np.testing.assert_allclose(tokens_first.X, both.X, rtol=1e-5,
                               atol=1e-6)
    # other texts, the same images: only the Q-Former part moves
    short = fnb.open_dataset(preset="smoke", summaries="none")
    other = blip2_features(backbone, short, "val", kind="multimodal",
                           device="cpu", max_chars=20)
    np.testing.assert_allclose(other.X[:, :32], both.X[:, :32], rtol=1e-5,
                               atol=1e-6)
    assert np.abs(other.X[:, 32:] - both.X[:, 32:]).max() > 1e-3


def test_a_folder_that_is_not_blip2_says_what_it_needs(tmp_path,
                                                       tiny_blip2_itm):
    import shutil

    from fairnb.features import load_blip2
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        load_blip2(tmp_path)
    bare = tmp_path / "itm"  # a retrieval model without its tokenizer
    bare.mkdir()
    for f in tiny_blip2_itm.iterdir():
        if "token" not in f.name and f.name != "vocab.txt" and \
                "special" not in f.name:
            shutil.copy(f, bare / f.name)
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_blip2(bare)


def test_the_mae_probe_steps_with_lars_trust_ratio(monkeypatch):
    """The weight's update is scaled by LARS' trust ratio (timm's
    always_adapt), the bias's is plain momentum SGD."""
    import timm.optim

    seen = []
    original = timm.optim.Lars.__init__

    def spy(self, params, **kw):
        params = list(params)
        seen.append((params, kw))
        original(self, params, **kw)

    monkeypatch.setattr(timm.optim.Lars, "__init__", spy)
    train, val, test = (one_feature(n, s) for n, s in
                        ((200, 0), (100, 1), (100, 2)))
    mae_probe(train, val, test, epochs=2)
    [(groups, kw)] = seen
    assert kw["momentum"] == 0.9
    assert [g["always_adapt"] for g in groups] == [True, False]
    assert [g["params"][0].ndim for g in groups] == [2, 1]  # weight, bias
