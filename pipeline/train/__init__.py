"""The training core: one explicit loop (nanoGPT style) that takes an objective, and the job around it.

Modules (nothing is imported here, so ``python -m pipeline.train.distributed`` stays clean):
  job           the typed ``TrainJob``, ``run_training`` (here or under torchrun), the training outputs
  loop          ``train(model, objective, batches, TrainConfig, out_dir, resume=True)``
  adversarial   ``train_adversarial``: generator + discriminator, two optimizers, alternating
  bookkeeping   what both loops share: logging window, resume fingerprint and point, progress, result
  objectives    the loss-function interface and the LM objective; contrastive.py, dpo.py
  schedule      linear warm-up then linear decay to a fraction of the peak learning rate
  checkpoint    periodic model + optimizer/scheduler/RNG/step state, atomic, resumable
  distributed   DDP under torchrun (gloo on CPU, nccl on CUDA), ``session``, relaunching
  batches       seeded, step-indexed batches over packed rows (resume needs no iterator state)
  named_config  ``from_table``: every family's ``Config.from_name(name, **overrides)``
"""
