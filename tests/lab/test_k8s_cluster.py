"""lab/k8s/cluster.py: the kubeadm configuration and the cluster's processes.
Nothing here starts a process."""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import cluster, layout, node  # noqa: E402  (lab/ is not a package)

LAYOUT = layout.Layout(run=Path("/c/run"), runtime=Path("/run/x"), containerd_root=Path("/c/ctd"),
                       bin=Path("/c/bin"))
NODE = node.node_at(LAYOUT, 0)


def test_kubeadm_config_pins_the_version_and_the_ranges():
    init, config = yaml.safe_load_all(cluster.kubeadm_config(LAYOUT, NODE, "1.34.4"))
    assert init["nodeRegistration"]["name"] == NODE.name
    assert init["nodeRegistration"]["criSocket"] == "unix:///run/x/containerd/containerd.sock"
    assert config["kubernetesVersion"] == "v1.34.4"
    assert config["networking"]["serviceSubnet"] == "10.96.0.0/16"
    assert config["certificatesDir"] == "/c/run/pki"


def test_processes_run_from_the_lab_binaries_in_start_order():
    procs = cluster.processes(LAYOUT, [NODE])
    assert [p.name for p in procs] == ["containerd", "etcd", "kube-apiserver", "kube-controller-manager",
                                       "kube-scheduler", "kubelet", "kube-proxy", "kube-router"]
    for process in procs[1:]:
        assert process.argv[0] == f"/c/bin/{process.name}"
    # Every node's containerd first, then the control plane, then every node's kubelet and kube-proxy,
    # then every node's NetworkPolicy enforcer.
    three = [p.name for p in cluster.processes(LAYOUT, [node.node_at(LAYOUT, i) for i in range(3)])]
    assert three == ["containerd", "containerd@lgtm-lab-1", "containerd@lgtm-lab-2", "etcd", "kube-apiserver",
                     "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
                     "kubelet@lgtm-lab-1", "kube-proxy@lgtm-lab-1", "kubelet@lgtm-lab-2", "kube-proxy@lgtm-lab-2",
                     "kube-router", "kube-router@lgtm-lab-1", "kube-router@lgtm-lab-2"]
    apiserver = procs[2].argv
    assert "--authorization-mode=Node,RBAC" in apiserver
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver
    assert "--leader-elect=false" in procs[3].argv and "--leader-elect=false" in procs[4].argv


def test_the_api_server_is_on_the_control_plane_nodes_address():
    assert cluster.api_url(node.node_at(layout.Layout(), 0)) == "https://10.250.0.2:6443"
    assert "--advertise-address=10.250.0.2" in cluster.processes(LAYOUT, [NODE])[2].argv


def test_the_kubelet_serves_a_certificate_the_clusters_ca_signed_for_the_nodes_address(tmp_path):
    """What a pod checks the kubelet against: its service account's ca.crt (the cluster's CA). The CA here is
    made the way kubeadm makes one (an RSA key, a self-signed CA certificate)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    lay = layout.Layout(run=tmp_path / "run", runtime=tmp_path / "runtime", containerd_root=tmp_path / "ctd",
                        bin=tmp_path / "bin")
    lab_node = node.node_at(lay, 0)
    lay.pki.mkdir(parents=True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    (lay.pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (lay.pki / "ca.key").write_bytes(ca_key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                                          serialization.NoEncryption()))
    cluster.write_kubelet_serving_certificate(lay, lab_node)

    served = x509.load_pem_x509_certificate(lab_node.kubelet_serving_cert.read_bytes())
    ca_key.public_key().verify(served.signature, served.tbs_certificate_bytes, padding.PKCS1v15(),
                               served.signature_hash_algorithm)
    assert served.issuer == ca_cert.subject
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(lab_node.node_ip)]
    assert names.get_values_for_type(x509.DNSName) == [lab_node.name]
    assert served.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    key = serialization.load_pem_private_key(lab_node.kubelet_serving_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == served.public_key()
    assert lab_node.kubelet_serving_key.stat().st_mode & 0o777 == 0o600


def test_a_workers_kubelet_signs_in_as_its_own_node_at_the_control_plane(tmp_path):
    """NodeRestriction lets a kubelet change only the Node its certificate names: each node's kubeconfig
    carries a client certificate for system:node:NAME in group system:nodes, and the control-plane
    node's API address."""
    import base64

    import yaml
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    lay = layout.Layout(run=tmp_path / "run", runtime=tmp_path / "runtime", containerd_root=tmp_path / "ctd")
    control, worker = node.node_at(lay, 0), node.node_at(lay, 1)
    lay.pki.mkdir(parents=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    (lay.pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (lay.pki / "ca.key").write_bytes(ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    worker.run.mkdir(parents=True)
    cluster.node_credentials(lay, control, worker)

    config = yaml.safe_load(worker.kubelet_kubeconfig.read_text())
    assert worker.kubelet_kubeconfig.stat().st_mode & 0o777 == 0o600
    assert config["clusters"][0]["cluster"]["server"] == "https://10.250.0.2:6443"
    user = config["users"][0]["user"]
    client = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:lgtm-lab-1"
    assert client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert client.issuer == ca_cert.subject
    assert client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    key = serialization.load_pem_private_key(base64.b64decode(user["client-key-data"]), password=None)
    assert key.public_key() == client.public_key()
    served = x509.load_pem_x509_certificate(worker.kubelet_serving_cert.read_bytes())
    assert served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName) == ["lgtm-lab-1"]
