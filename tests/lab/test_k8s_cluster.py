"""lab/k8s/cluster.py: the kubeadm configuration and the cluster's processes.
Nothing here starts a process."""
from __future__ import annotations

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
    procs = cluster.processes(LAYOUT, NODE)
    assert [p.name for p in procs] == ["containerd", "etcd", "kube-apiserver", "kube-controller-manager",
                                       "kube-scheduler", "kubelet", "kube-proxy"]
    for process in procs[1:]:
        assert process.argv[0] == f"/c/bin/{process.name}"
    apiserver = procs[2].argv
    assert "--authorization-mode=Node,RBAC" in apiserver
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver
    assert "--leader-elect=false" in procs[3].argv and "--leader-elect=false" in procs[4].argv


def test_the_api_server_is_on_the_control_plane_nodes_address():
    assert cluster.api_url(node.node_at(layout.Layout(), 0)) == "https://10.250.0.2:6443"
    assert "--advertise-address=10.250.0.2" in cluster.processes(LAYOUT, NODE)[2].argv


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
