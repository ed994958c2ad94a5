"""The node's cluster DNS: ``records`` says what names of the cluster zone mean, ``server``
answers them on port 53 of the pod-network gateway and forwards the rest, ``main`` is
``minik8s-dns``."""
