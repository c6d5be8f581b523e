"""TLS for the kubelet endpoint: the serving certificate (given, or self-signed at startup as a kubelet does without
one), and the CA that client certificates must chain to — by default the virtual API server's own client CA, read from
kube-system/extension-apiserver-authentication, so the chart and `vcsync dev` need no extra wiring."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from syncer.kube.api import KubeApi
from vocab.resources import CONFIGMAPS

AUTH_CONFIGMAP = ("kube-system", "extension-apiserver-authentication")


def self_signed(address: str) -> tuple[bytes, bytes]:
    """A one-year self-signed ECDSA serving certificate for `address` and localhost, and its key (both PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vcsync-kubelet@{address}")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(address))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def client_ca(api: KubeApi, ca_file: str) -> str | None:
    """PEM of the CA for client certificates: `ca_file`, else the virtual API server's `client-ca-file`; "" when it
    has none (then only bearer tokens authenticate); None while the API server has not published its authentication
    ConfigMap yet, which it does just after it starts serving (in the chart's pod, vcsync often asks before that)."""
    if ca_file:
        return Path(ca_file).read_text()  # noqa: ASYNC240 (once, at startup)
    configmap = await api.get(CONFIGMAPS, *AUTH_CONFIGMAP)
    if configmap is None:
        return None
    return (configmap.get("data") or {}).get("client-ca-file", "")


def server_context(cert_file: str, key_file: str, address: str) -> ssl.SSLContext:
    """TLS 1.2+ serving context; `require_client_ca` adds client certificate checks later."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    else:
        cert, key = self_signed(address)
        with tempfile.TemporaryDirectory() as folder:  # ssl loads key pairs from files only
            paths = Path(folder, "tls.crt"), Path(folder, "tls.key")
            paths[0].write_bytes(cert)
            paths[1].write_bytes(key)
            context.load_cert_chain(*paths)
    return context


def require_client_ca(context: ssl.SSLContext, ca_pem: str) -> None:
    """From now on, client certificates are asked for and must chain to `ca_pem`; they stay optional, since a bearer
    token is the other way in. Connections made earlier keep their handshake."""
    context.load_verify_locations(cadata=ca_pem)
    context.verify_mode = ssl.CERT_OPTIONAL
