"""Image restoration: hole masks, corruptions and classical (non-learned) restorers.

`masks` draws the holes and noise that corrupt an image (centre box, random boxes,
free-form strokes, a user's mask image; additive Gaussian noise); `nlmeans` restores
with non-local means (denoising, and hole filling from the known pixels). Import the
submodules directly; this package imports nothing so that importing it stays cheap.
"""
