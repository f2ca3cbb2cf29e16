"""The lab's Kubernetes (a control-plane node and two workers), one module per seam (lab/k8s_lab.py is the
command line):

    layout     where things are: the cache folders, the cluster-wide ranges, Layout
    build      the binaries (kube-router included) and the pause/CoreDNS images, built from
               their recipes and cached
    archive    docker-archive image tars, written without Docker
    images     the stack's lab images from the artifact mirror's binaries
    node       one node: its names, addresses and folders (Node), containerd,
               kubelet, kube-proxy and NetworkPolicy enforcer (kube-router), its
               cgroups and its containers
    network    what `up` changes on the network of one node, the guards among those
               changes, their undo and the check that they are in place
    host       running commands and the cluster's processes on this machine
    cluster    the control plane: PKI, kubeconfigs, its processes, the API, waiting
    addons     CoreDNS, the default StorageClass and the volume provisioner
    lifecycle  up, down and the cluster's state
"""
