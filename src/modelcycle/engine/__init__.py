"""The training engine below the model families: the loop (:mod:`.loop`), the optimiser
registry (:mod:`.optimizers`: names, flags, constraints, default rates), the optimisers' steps
(:mod:`.optim`), torchrun/DDP (:mod:`.distributed`) and the progress bar (:mod:`.progress`).

It imports no other modelcycle room but ``exceptions`` and ``_io``; ``models`` build on it and
``training`` (choose a family, fit, save) sits above both. Nothing is imported here, so that
reading the registry does not load PyTorch.
"""
