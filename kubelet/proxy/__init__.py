"""The node's service proxy (kube-proxy's iptables mode): ``iptables`` builds the rules,
``proxier`` keeps them in step with the cluster, ``main`` is ``minik8s-proxy``; the host's tools
run through ``kubelet/nettools.py``, which the pod network (``kubelet/network.py``) shares."""
