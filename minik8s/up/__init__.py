"""``minik8s up|down|status|join``: the one-command cluster and its supervisor.

Only re-exports. The modules: ``config`` (flags → one :class:`UpConfig`), ``components`` (the
component table and command lines), ``supervisor`` (processes, back-off, ordered stop),
``state`` (lock and state file in the data dir), ``preflight``, ``readiness``, ``cluster``
(the supervising process), ``startup`` (its forked start-up: credentials, readiness order,
progress), ``host`` (the one process running the components), ``footprint`` (memory from
/proc), ``status``, ``down``, ``join``, ``main``.
"""

from minik8s.up.components import Component, build
from minik8s.up.config import UpConfig
from minik8s.up.supervisor import Supervisor

__all__ = ["Component", "Supervisor", "UpConfig", "build"]
