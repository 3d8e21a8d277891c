"""One explicit training loop (nanoGPT style) that takes an objective.

Modules (nothing is imported here, so ``python -m pipeline.train.distributed`` stays clean):
  loop         ``train(model, objective, batches, TrainConfig, out_dir, resume=True)``
  objectives   the loss functions the loop optimises (LM now; contrastive and DPO later)
  schedule     linear warm-up then linear decay to a fraction of the peak learning rate
  checkpoint   periodic model + optimizer/scheduler/RNG/step state, atomic, resumable
  distributed  DDP under torchrun (gloo on CPU, nccl on CUDA), batch sharding, relaunching
  batches      seeded, step-indexed batches over packed rows (resume needs no iterator state)
  aria_lm      the Aria LM training job shared by the pretrain and finetune stages
"""
