"""vcsync as the kubelet of the nodes it shows a tenant: the virtual API server sends `kubectl logs/exec/attach/
port-forward` to a node's kubelet, and for vcsync's fake (or mirrored) nodes that is this endpoint. Each request is
authenticated and authorized like a real kubelet's, then forwarded to the host API server for this vcluster's host pod
only, with least-privilege namespaced permissions (pods/log, pods/exec, ...), never nodes/proxy."""
