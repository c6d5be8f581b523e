"""TLS material for a local control plane: a CA, the API server's serving cert, an admin client cert, the
service-account signing key (so TokenRequest works) and kubeconfig files that embed them.
Generated fresh per cluster with `cryptography`, so nothing secret is ever checked in or reused."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from syncer.certs import builder, pem_key, sign_leaf, subject

VALIDITY = dt.timedelta(days=365)
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class Pki:
    """Paths of the files one cluster's components read."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path
    kubelet_client_cert: Path  # the API server's identity towards kubelets (vcsync's kubelet endpoint)
    kubelet_client_key: Path
    kubelet_serving_cert: Path  # what vcsync's kubelet endpoint serves at 127.0.0.1, checked by the API server
    kubelet_serving_key: Path


def _leaf(ca_key, ca_name: x509.Name, name: x509.Name, usage, sans: list[x509.GeneralName] | None):
    return sign_leaf(ca_key, ca_name, name, usage, sans, VALIDITY)


def write_pki(
    directory: Path, service_ip: str, cluster_domain: str = "cluster.local", extra_ips: tuple[str, ...] = ()
) -> Pki:
    """Create every key and certificate one cluster needs under `directory`; `extra_ips` are more serving IPs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = subject("vcsync-test-ca")
    ca_cert = (
        builder(ca_name, ca_name, ca_key.public_key(), VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append(f"kubernetes.default.svc.{cluster_domain}")
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip, *extra_ips)]
    serving_key, serving = _leaf(ca_key, ca_name, subject("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    admin_key, admin = _leaf(ca_key, ca_name, subject("admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, None)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kubelet_client_name = subject(KUBELET_CLIENT_USER)  # no group: vcsync binds it (--kubelet-apiserver-user)
    kubelet_client_key, kubelet_client = _leaf(
        ca_key, ca_name, kubelet_client_name, ExtendedKeyUsageOID.CLIENT_AUTH, None
    )
    kubelet_sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    kubelet_key, kubelet = _leaf(
        ca_key, ca_name, subject("vcsync-kubelet"), ExtendedKeyUsageOID.SERVER_AUTH, kubelet_sans
    )

    pki = Pki(
        *(
            directory / n
            for n in (
                "ca.crt",
                "ca.key",
                "apiserver.crt",
                "apiserver.key",
                "admin.crt",
                "admin.key",
                "sa.key",
                "sa.pub",
                "kubelet-client.crt",
                "kubelet-client.key",
                "kubelet.crt",
                "kubelet.key",
            )
        )
    )
    cert_pem = serialization.Encoding.PEM
    pki.ca_cert.write_bytes(ca_cert.public_bytes(cert_pem))
    pki.ca_key.write_bytes(pem_key(ca_key))
    pki.serving_cert.write_bytes(serving.public_bytes(cert_pem))
    pki.serving_key.write_bytes(pem_key(serving_key))
    pki.admin_cert.write_bytes(admin.public_bytes(cert_pem))
    pki.admin_key.write_bytes(pem_key(admin_key))
    pki.sa_key.write_bytes(pem_key(sa_key))
    pki.sa_pub.write_bytes(sa_key.public_key().public_bytes(cert_pem, serialization.PublicFormat.SubjectPublicKeyInfo))
    for cert, key, cert_path, key_path in (
        (kubelet_client, kubelet_client_key, pki.kubelet_client_cert, pki.kubelet_client_key),
        (kubelet, kubelet_key, pki.kubelet_serving_cert, pki.kubelet_serving_key),
    ):
        cert_path.write_bytes(cert.public_bytes(cert_pem))
        key_path.write_bytes(pem_key(key))
    for path in (
        pki.ca_key,
        pki.serving_key,
        pki.admin_key,
        pki.sa_key,
        pki.kubelet_client_key,
        pki.kubelet_serving_key,
    ):
        path.chmod(0o600)
    return pki


def write_kubeconfig(path: Path, name: str, server: str, pki: Pki) -> Path:
    """An admin kubeconfig with the certificates embedded, so it stays valid when copied elsewhere."""

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [
            {
                "name": f"{name}-admin",
                "user": {"client-certificate-data": b64(pki.admin_cert), "client-key-data": b64(pki.admin_key)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path
