"""Private PyTorch machinery: network modules and the one training loop."""
