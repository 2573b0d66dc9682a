"""A contrastive encoder run does not generate; `sample` says what to do instead."""

from aigc_jax.errors import UserError


def sample(run, key, num: int, labels=None, attributes=None, prompts=None):
  del key, num, labels, attributes, prompts
  raise UserError(f"{run.workdir!r} is a text_encoder run, which embeds captions and images but draws no "
                  f"image; train a text2img run on it (--config.text_encoder_workdir={run.workdir}) and sample that")
