"""Zero-shot scoring checked by hand on a model whose embeddings are
known: the softmax over the two prompt cosines, class 1 = glaucoma."""
import numpy as np
import pytest
import torch

from fairnb.attributes import ATTRIBUTES
from fairnb.data.torch import SplitData
from fairnb.evaluate import DEFAULT_PROMPTS, zero_shot
from fairnb.models import ModelBundle

PROMPT_TOKENS = {DEFAULT_PROMPTS[0]: 11, DEFAULT_PROMPTS[1]: 22}
U = {11: torch.tensor([1.0, 0.0]), 22: torch.tensor([0.6, 0.8])}


class KnownModel(torch.nn.Module):
    """Image embedding: the first two normalised pixels; text: a fixed
    unit vector per first token."""

    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(np.log(50.0)))

    def encode_image(self, x, normalize=False):
        v = x[:, 0, 0, :2]
        return torch.nn.functional.normalize(v, dim=-1) if normalize else v

    def encode_text(self, tokens, normalize=False):
        return torch.stack([U.get(int(t), torch.tensor([0.0, 1.0]))
                            for t in tokens[:, 0]])


def tokenizer(texts):
    return torch.tensor([[PROMPT_TOKENS.get(t, 5)] + [0] * 3 for t in texts])


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    images = torch.tensor(rng.integers(0, 256, (6, 1, 4, 4)),
                          dtype=torch.uint8)
    data = SplitData(
        ids=[f"s{i}" for i in range(6)], texts=["note"] * 6, images=images,
        tokens=torch.full((6, 4), 5), labels=torch.tensor([0, 1] * 3),
        attributes=torch.zeros(6, len(ATTRIBUTES), dtype=torch.long),
        split="test")
    bundle = ModelBundle(model=KnownModel(), tokenizer=tokenizer,
                         name="known", pretrained="", image_size=4,
                         mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    return bundle, data


def test_zero_shot_score_by_hand(case):
    bundle, data = case
    pred = zero_shot(bundle, data, device="cpu")
    assert DEFAULT_PROMPTS[1] == "A photo of glaucoma"  # class 1
    px = (data.images[:, 0, 0, :2].double() / 255 - 0.5) / 0.25
    img = px / px.norm(dim=1, keepdim=True)
    cos0, cos1 = img @ U[11].double(), img @ U[22].double()
    hand = torch.exp(cos1) / (torch.exp(cos0) + torch.exp(cos1))  # T = 1
    np.testing.assert_allclose(pred.y_score, hand.numpy(), rtol=1e-6)
    # the matched-pair similarity is the cosine to the sample's own text
    np.testing.assert_allclose(pred.similarity, img[:, 1].numpy(),
                               rtol=1e-6)
    # prompt order matters: swapped, every score becomes 1 - score
    swapped = zero_shot(bundle, data, device="cpu",
                        prompts=DEFAULT_PROMPTS[::-1])
    np.testing.assert_allclose(swapped.y_score, 1 - pred.y_score, rtol=1e-6)


def test_logit_scoring_uses_the_temperature(case):
    bundle, data = case
    pred = zero_shot(bundle, data, device="cpu", scoring="logit")
    px = (data.images[:, 0, 0, :2].double() / 255 - 0.5) / 0.25
    img = px / px.norm(dim=1, keepdim=True)
    d = 50.0 * (img @ (U[22] - U[11]).double())
    np.testing.assert_allclose(pred.y_score, torch.sigmoid(d).numpy(),
                               rtol=1e-5)
