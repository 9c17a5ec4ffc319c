"""Training: heads and projector, stage 1, stage 2, prompting, generation and the runner."""
