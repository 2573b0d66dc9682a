"""A figure of prompts and their samples from a text2img run (docs/images/text2img_digits.png).

  python scripts/text2img_figure.py --workdir runs/text2img_digits --out docs/images/text2img_digits.png

One row per prompt: the prompt, then `--per-prompt` samples from different latents.
"""

import argparse

import jax
import numpy as np
from PIL import Image, ImageDraw

from aigc_jax import images, inference
from aigc_jax.inference import text2img

PROMPTS = (
    "a thick seven leaning right", "7, thin and upright", "seven, thin and leaning left",
    "a bold 2 slanted left", "the digit two, upright, with fine strokes",
    "upright, a heavy four", "a 4 written with light strokes, tilted to the right",
    "zero, medium and straight", "a thin 1 leaning right", "heavy eight, standing straight",
)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--per-prompt", type=int, default=8)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  run = inference.load(args.workdir)
  k = args.per_prompt
  prompts = [p for p in PROMPTS for _ in range(k)]
  samples = text2img.sample(run, jax.random.key(args.seed), len(prompts), prompts=prompts)
  scale = 4
  grid = images.make_grid(samples, ncols=k)
  grid = np.kron(grid[..., 0], np.ones((scale, scale), np.uint8))
  row_h = grid.shape[0] // len(PROMPTS)
  text_w = 330
  canvas = Image.new("L", (text_w + grid.shape[1], grid.shape[0]), 255)
  canvas.paste(Image.fromarray(grid), (text_w, 0))
  draw = ImageDraw.Draw(canvas)
  for i, prompt in enumerate(PROMPTS):
    draw.text((6, i * row_h + row_h // 2 - 6), prompt, fill=0)
  canvas.save(args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
