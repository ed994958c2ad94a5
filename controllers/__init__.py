"""The controller-manager: one module per controller, run by ``controllers.main``.

``base`` is the shared queue-and-workers skeleton, ``controller_utils`` the shared helpers
(pod predicates, controller references, claiming, slow-start batches), ``expectations`` what
bulk-creating controllers have asked for and not yet seen. Each controller is ``<name>.py``
with its pure functions in ``<name>_utils.py``: ``replicaset``, ``deployment`` (its
strategies in ``deployment_rolling`` and ``deployment_recreate``). Import the modules.
"""

__all__: list[str] = []
