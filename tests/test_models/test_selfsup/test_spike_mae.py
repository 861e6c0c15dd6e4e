"""SMA pre-training: masking, mask perturbation, masked-only loss, the mask token, pictures."""
import pytest
import torch

from mmsdt.models.selfsup import (SpikeMAE, SpikeMAEDecoder, mask_images, patch_grid,
                                  random_active_mask, sincos_positions)


def test_random_mask_counts_seed_and_errors():
    grid = (3, 5)
    a = random_active_mask(4, grid, 0.5, torch.Generator().manual_seed(1))
    b = random_active_mask(4, grid, 0.5, torch.Generator().manual_seed(1))
    c = random_active_mask(4, grid, 0.5, torch.Generator().manual_seed(2))
    assert a.dtype == torch.bool and a.shape == (4, 3, 5)
    assert a.flatten(1).sum(1).tolist() == [7] * 4  # int(15 * 0.5) visible, as upstream
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(m.flatten().tolist()) for m in a}) > 1  # per-sample masks
    with pytest.raises(ValueError, match='mask_ratio'):
        random_active_mask(1, grid, 1.0)
    with pytest.raises(ValueError, match='keeps 0 visible'):
        random_active_mask(1, (1, 1), 0.5)
    with pytest.raises(ValueError, match='40x48'):
        patch_grid((1, 3, 40, 48))


def test_mask_images_zeroes_masked_patches_only():
    images = torch.rand(2, 3, 32, 48) + 1
    active = random_active_mask(2, (2, 3), 0.5, torch.Generator().manual_seed(0))
    out = mask_images(images, active)
    for b in range(2):
        for i in range(2):
            for j in range(3):
                patch = out[b, :, 16 * i:16 * i + 16, 16 * j:16 * j + 16]
                ref = images[b, :, 16 * i:16 * i + 16, 16 * j:16 * j + 16]
                assert torch.equal(patch, ref if active[b, i, j] else torch.zeros_like(ref))
    with pytest.raises(ValueError, match='does not fit'):
        mask_images(images, active[:, :1])


@pytest.mark.parametrize('training', [True, False])
def test_masked_pixels_change_no_active_output_and_no_loss_term(training, tiny_mae):
    torch.manual_seed(0)
    model = tiny_mae().double().train(training)
    images = torch.randn(3, 3, 32, 48, dtype=torch.float64)
    active = model.random_mask(images)
    other = images + 5 * torch.randn_like(images) * (~active).double().repeat_interleave(
        16, 1).repeat_interleave(16, 2)[:, None]  # only masked pixels differ
    assert not torch.equal(images, other)
    conv = model.backbone.forward_conv_stages
    c1, c2 = conv(images, active), conv(other, active)
    assert torch.equal(c1, c2)
    assert c1.abs().sum() > 0
    assert torch.equal(c1 * (~active)[:, None], torch.zeros_like(c1))  # masked tokens empty
    # un-zeroed encoder inputs: the predictions and every per-patch loss term are equal
    p1, p2 = model.predict_patches(images, active), model.predict_patches(other, active)
    assert torch.equal(p1, p2)
    target = images  # the same reconstruction target for both
    assert torch.equal(model.patch_losses(p1, target), model.patch_losses(p2, target))


def test_loss_only_on_masked_patches(tiny_mae):
    torch.manual_seed(0)
    model = tiny_mae()
    images = torch.randn(2, 3, 32, 32)
    active = model.random_mask(images)
    pred = torch.randn(2, 4, 16 * 16 * 3)
    masked = (~active).flatten(1).float()
    loss = model.head.loss(pred, images, masked)
    terms = model.patch_losses(pred, images)
    assert torch.allclose(loss, terms[masked.bool()].mean())
    visible_changed = pred + 3 * active.flatten(1)[..., None].float()
    assert torch.equal(model.head.loss(visible_changed, images, masked), loss)
    masked_changed = pred + 3 * masked[..., None]
    assert not torch.allclose(model.head.loss(masked_changed, images, masked), loss)
    # targets are normalised per patch (norm_pix): an affine change of one patch's pixels
    # leaves its target unchanged
    target = model.head.construct_target(images)
    assert torch.allclose(target.mean(-1), torch.zeros(2, 4), atol=1e-5)


def test_mask_token_is_used(tiny_mae):
    torch.manual_seed(0)
    model = tiny_mae(mask_seed=3)
    images = torch.randn(2, 3, 32, 32)
    loss = model.loss(images)['loss']
    loss.backward()
    grad = model.neck.mask_token.grad
    assert grad is not None and grad.abs().sum() > 0
    model.zero_grad()
    model.generator.manual_seed(3)
    base = model.loss(images)['loss']
    with torch.no_grad():
        # (a shift of all channels by one constant would be invisible behind LayerNorm)
        model.neck.mask_token.add_(torch.randn_like(model.neck.mask_token))
    model.generator.manual_seed(3)
    assert not torch.allclose(model.loss(images)['loss'], base)
    # the upstream behaviour (no mask token): the token takes no part
    torch.manual_seed(0)
    plain = tiny_mae(use_mask_token=False)
    plain.loss(images)['loss'].backward()
    assert plain.neck.mask_token.grad is None


def test_decoder_positions_depend_on_row_and_column_only():
    small, wide = sincos_positions((2, 3), 16)[0], sincos_positions((4, 5), 16)[0]
    for r in range(2):
        for c in range(3):
            assert torch.equal(small[r * 3 + c], wide[r * 5 + c])
    assert len({tuple(v.tolist()) for v in small}) == 6
    decoder = SpikeMAEDecoder(in_channels=8, embed_dims=16, depth=1, num_heads=2)
    with pytest.raises(ValueError, match='does not fit'):
        decoder(torch.randn(1, 8, 2, 3), torch.ones(1, 3, 2, dtype=torch.bool))


def test_patchify_and_reconstruction_of_non_square_images(tiny_mae):
    torch.manual_seed(0)
    model = tiny_mae().eval()
    images = torch.randn(2, 3, 32, 48)
    patches = model.head.patchify(images)
    assert patches.shape == (2, 6, 768)
    assert torch.equal(patches[0, 1], images[0, :, :16, 16:32].permute(1, 2, 0).flatten())
    assert torch.equal(model.head.unpatchify_grid(patches, (2, 3)), images)
    out = model.reconstruct(images)
    pixel_active = out['active'].repeat_interleave(16, 1).repeat_interleave(16, 2)[:, None]
    recon = out['reconstruction']
    assert recon.shape == images.shape
    assert torch.allclose(recon * pixel_active, images * pixel_active, atol=1e-6)
    assert not torch.allclose(recon * ~pixel_active, images * ~pixel_active)
    assert isinstance(model, SpikeMAE)
