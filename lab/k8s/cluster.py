"""The control plane: its PKI and kubeconfigs (kubeadm's phases only), etcd,
the API server, controller-manager and scheduler, the cluster's processes in
start order, and the API from the host for the readiness waits. The control
plane runs in the namespace of the node given (the first one)."""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from buildkit import run

from .host import Process, sh
from .layout import ADMIN_CONF, API_PORT, BIN, CLUSTER_NAME, POD_CIDR, SERVICE_CIDR, Layout
from .node import Node, containerd_process, kubelet_processes, policy_enforcer_process


def api_url(node: Node) -> str:
    """The API server's address: the control-plane node's, from the host too."""
    return f"https://{node.node_ip}:{API_PORT}"


def kubeadm_config(layout: Layout, node: Node, version: str) -> str:
    """Only for `kubeadm init phase certs|kubeconfig`: the full `kubeadm init`
    is skipped. kubernetesVersion is set so that kubeadm never looks one up."""
    init = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
            "localAPIEndpoint": {"advertiseAddress": node.node_ip, "bindPort": API_PORT},
            "nodeRegistration": {"name": node.name, "criSocket": f"unix://{node.socket}",
                                 "taints": []}}
    cluster = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
               "kubernetesVersion": f"v{version}", "clusterName": CLUSTER_NAME,
               "certificatesDir": str(layout.pki),
               "controlPlaneEndpoint": f"{node.node_ip}:{API_PORT}",
               "networking": {"serviceSubnet": SERVICE_CIDR, "podSubnet": POD_CIDR,
                              "dnsDomain": "cluster.local"},
               "apiServer": {"certSANs": [node.node_ip, "127.0.0.1", "localhost"]},
               "etcd": {"local": {"dataDir": str(layout.run / "etcd")}}}
    return yaml.safe_dump_all([init, cluster], sort_keys=False)


def control_plane_processes(layout: Layout, node: Node) -> list[Process]:
    """etcd, the API server, controller-manager and scheduler, in start order."""
    pki, conf, b = layout.pki, layout.kubeconfigs, layout.bin
    return [
        Process("etcd", [
            str(b / "etcd"), "--name", node.name, "--data-dir", str(layout.run / "etcd"),
            "--listen-client-urls", "https://127.0.0.1:2379",
            "--advertise-client-urls", "https://127.0.0.1:2379",
            "--listen-peer-urls", "https://127.0.0.1:2380",
            "--initial-advertise-peer-urls", "https://127.0.0.1:2380",
            "--initial-cluster", f"{node.name}=https://127.0.0.1:2380",
            "--listen-metrics-urls", "http://127.0.0.1:2381",
            "--cert-file", str(pki / "etcd/server.crt"), "--key-file", str(pki / "etcd/server.key"),
            "--trusted-ca-file", str(pki / "etcd/ca.crt"), "--client-cert-auth",
            "--peer-cert-file", str(pki / "etcd/peer.crt"), "--peer-key-file", str(pki / "etcd/peer.key"),
            "--peer-trusted-ca-file", str(pki / "etcd/ca.crt"), "--peer-client-cert-auth",
            # A throwaway lab cluster: no fsync, so a busy disk does not stall the API.
            "--unsafe-no-fsync", "--snapshot-count", "10000"]),
        Process("kube-apiserver", [
            str(b / "kube-apiserver"), f"--advertise-address={node.node_ip}", f"--secure-port={API_PORT}",
            "--allow-privileged=true", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            "--etcd-servers=https://127.0.0.1:2379", f"--etcd-cafile={pki / 'etcd/ca.crt'}",
            f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
            f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}"]),
        Process("kube-controller-manager", [
            str(b / "kube-controller-manager"), f"--kubeconfig={conf / 'controller-manager.conf'}",
            f"--authentication-kubeconfig={conf / 'controller-manager.conf'}",
            f"--authorization-kubeconfig={conf / 'controller-manager.conf'}",
            "--bind-address=127.0.0.1", f"--client-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--use-service-account-credentials=true", "--leader-elect=false"]),
        Process("kube-scheduler", [
            str(b / "kube-scheduler"), f"--kubeconfig={conf / 'scheduler.conf'}",
            f"--authentication-kubeconfig={conf / 'scheduler.conf'}",
            f"--authorization-kubeconfig={conf / 'scheduler.conf'}",
            "--bind-address=127.0.0.1", "--leader-elect=false"]),
    ]


def processes(layout: Layout, nodes: list[Node]) -> list[Process]:
    """The cluster's processes in start order (stop order is the reverse): every
    node's containerd, the control plane (on the first node), every node's kubelet
    and kube-proxy, then every node's NetworkPolicy enforcer (it reads the Nodes)."""
    return [*(containerd_process(layout, node) for node in nodes), *control_plane_processes(layout, nodes[0]),
            *(process for node in nodes for process in kubelet_processes(layout, node)),
            *(policy_enforcer_process(layout, node) for node in nodes)]


# --- PKI and kubeconfigs -------------------------------------------------------------

# The kubeconfigs kubeadm writes for the lab: not its `kubelet` one (`all` would write it), since
# every node's kubelet gets its own (write_kubelet_kubeconfig).
KUBEADM_KUBECONFIGS = ("admin", "super-admin", "controller-manager", "scheduler")


def kubeadm_phases(layout: Layout, node: Node, version: str) -> None:
    """The PKI and the kubeconfigs from kubeadm's phases, and the admin's client
    certificate for Api."""
    config = layout.run / "kubeadm.yaml"
    config.write_text(kubeadm_config(layout, node, version))
    kubeadm = str(layout.bin / "kubeadm")
    run("k8s", "kubeadm-certs", [kubeadm, "init", "phase", "certs", "all", "--config", str(config)])
    for name in KUBEADM_KUBECONFIGS:
        run("k8s", f"kubeadm-kubeconfig-{name}", [kubeadm, "init", "phase", "kubeconfig", name, "--config",
                                                  str(config), "--kubeconfig-dir", str(layout.kubeconfigs)])
    write_admin_client(layout, layout.kubeconfigs / "admin.conf")


def node_credentials(layout: Layout, control_plane: Node, node: Node) -> None:
    """The node's kubelet serving certificate and its kubelet's kubeconfig, both signed by
    the cluster's CA (kubeadm's ca.crt, which every pod's service account mounts)."""
    write_kubelet_serving_certificate(layout, node)
    write_kubelet_kubeconfig(layout, control_plane, node)


def node_identity(node: Node) -> x509.Name:
    """The name the Node authorizer and NodeRestriction admission know a node's kubelet by."""
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node.name}")])


def signed_by_cluster_ca(layout: Layout, name: x509.Name, usage: x509.ObjectIdentifier,
                         alternative_names: list[x509.GeneralName]) -> tuple[bytes, bytes]:
    """A new key and a 30-day certificate for it, signed by the cluster's CA, as PEM (key, certificate)."""
    ca_cert = x509.load_pem_x509_certificate((layout.pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((layout.pki / "ca.key").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False),
                              critical=True))
    if alternative_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            certificate.public_bytes(serialization.Encoding.PEM))


def write_kubelet_serving_certificate(layout: Layout, node: Node) -> None:
    """The node's kubelet serving certificate for the node's name and address: what a CSR
    of serverTLSBootstrap gets once approved, without the approval step."""
    key, certificate = signed_by_cluster_ca(
        layout, node_identity(node), ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName(node.name), x509.IPAddress(ipaddress.ip_address(node.node_ip))])
    node.kubelet_serving_key.write_bytes(key)
    node.kubelet_serving_key.chmod(0o600)
    node.kubelet_serving_cert.write_bytes(certificate)


def kubelet_kubeconfig(control_plane: Node, node: Node, ca: bytes, key: bytes, certificate: bytes) -> dict[str, Any]:
    """A kubeconfig for the node's kubelet: the API server on the control-plane node,
    the user system:node:NAME (group system:nodes)."""
    def data(pem: bytes) -> str:
        return base64.b64encode(pem).decode()
    user = f"system:node:{node.name}"
    cluster = {"server": api_url(control_plane), "certificate-authority-data": data(ca)}
    return {"apiVersion": "v1", "kind": "Config", "current-context": node.name,
            "clusters": [{"name": CLUSTER_NAME, "cluster": cluster}],
            "users": [{"name": user, "user": {"client-certificate-data": data(certificate),
                                              "client-key-data": data(key)}}],
            "contexts": [{"name": node.name, "context": {"cluster": CLUSTER_NAME, "user": user}}]}


def write_kubelet_kubeconfig(layout: Layout, control_plane: Node, node: Node) -> None:
    """What kubeadm's phase writes for its one node, for every node: each kubelet
    may then only register and change its own Node (NodeRestriction)."""
    key, certificate = signed_by_cluster_ca(layout, node_identity(node), ExtendedKeyUsageOID.CLIENT_AUTH, [])
    node.kubelet_kubeconfig.write_text(yaml.safe_dump(kubelet_kubeconfig(
        control_plane, node, (layout.pki / "ca.crt").read_bytes(), key, certificate)))
    node.kubelet_kubeconfig.chmod(0o600)


def write_admin_client(layout: Layout, kubeconfig: Path) -> None:
    """The admin client certificate and key, out of the kubeconfig, for Api."""
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    layout.runtime.mkdir(parents=True, exist_ok=True)
    for suffix, field in (("crt", "client-certificate-data"), ("key", "client-key-data")):
        target = layout.runtime / f"admin.{suffix}"
        target.write_bytes(base64.b64decode(user[field]))
        target.chmod(0o600)


def kubectl(args: list[str], kubeconfig: Path = ADMIN_CONF, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return sh([str(BIN / "kubectl"), f"--kubeconfig={kubeconfig}", *args], stdin=stdin,
              timeout=timeout)


def apply(documents: list[dict[str, Any]], kubeconfig: Path = ADMIN_CONF) -> None:
    kubectl(["apply", "-f", "-"], kubeconfig, stdin=yaml.safe_dump_all(documents))


def cluster_admins(layout: Layout) -> None:
    """admin.conf's user is in group kubeadm:cluster-admins, which has no rights
    until `kubeadm init` binds it: bind it with super-admin.conf."""
    apply([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubeadm:cluster-admins"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "kubeadm:cluster-admins"}]}],
          layout.kubeconfigs / "super-admin.conf")


# --- the API, from the host ------------------------------------------------------------

class Api:
    """The API server over HTTPS from the host, as the admin (client certificate
    taken from admin.conf): for readiness polls and the volume provisioner."""

    def __init__(self, layout: Layout, node: Node) -> None:
        self.url = api_url(node)
        self.context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        self.context.load_cert_chain(str(layout.runtime / "admin.crt"), str(layout.runtime / "admin.key"))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload.startswith(b"{") else payload.decode()

    def get(self, path: str) -> Any:
        return self.call("GET", path)


def node_ready(api: Api, node: Node) -> bool:
    status = api.get(f"/api/v1/nodes/{node.name}")["status"]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])


def exists(api: Api, path: str) -> bool:
    try:
        api.get(path)
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def deployment_ready(api: Api, namespace: str, name: str) -> bool:
    deployment = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    status = deployment.get("status", {})
    return (status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == deployment["spec"]["replicas"]
            and status.get("availableReplicas") == deployment["spec"]["replicas"])
