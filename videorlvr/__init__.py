"""VideoRLVR: verifiable-reward video reasoning environments and a flow-matching SDE-GRPO trainer.

Importing this package registers the environments with Gymnasium, so ``gym.make("videorlvr:VideoMaze-v0")``
works in a fresh process. The environments live in :mod:`videorlvr.envs`; the trainer is :mod:`diffrl`.
"""

from importlib.metadata import PackageNotFoundError, version

from videorlvr import envs  # noqa: F401  (registers the Gymnasium ids)

try:
    __version__ = version("videorlvr")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
