"""mkctl: the kubectl-like CLI bundled with minik8s (entry point: ``minik8s.cli.main:main``)."""
