"""The node's service proxy (kube-proxy's iptables mode): ``iptables`` builds the rules,
``proxier`` keeps them in step with the cluster, ``executor`` runs the host's tools, ``main`` is
``minik8s-proxy``."""
