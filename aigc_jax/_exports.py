"""How every package of aigc_jax re-exports its public names: lazily, in one style.

A package's `__init__` maps each public name to the module that defines it; the module
is imported the first time the name is used (PEP 562), so `import aigc_jax.x` stays
cheap (no JAX, Flax or torch until needed) and each name is one hop from its package.

  __all__, __getattr__, __dir__ = exports(__name__, {"Generator": "aigc_jax.models.dcgan"})

A name that is itself a module (`{"gan": "aigc_jax.train.gan"}`) resolves to the module.
"""

import importlib


def exports(package: str, names: dict[str, str]):
  """(`__all__`, `__getattr__`, `__dir__`) for `package` exporting `names`."""

  def __getattr__(name):
    if name not in names:
      raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module = importlib.import_module(names[name])
    return module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)

  def __dir__():
    return sorted(names)
  return sorted(names), __getattr__, __dir__
