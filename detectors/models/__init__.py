"""Model architectures, one file each; every file holds ``nn.Module`` code and nothing else."""
