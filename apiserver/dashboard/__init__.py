"""The web dashboard the apiserver serves at ``/ui/`` (issue #13): static files and their route."""

from apiserver.dashboard.route import install

__all__ = ["install"]
