"""X.509 signing shared by the dev control planes' PKI (syncer.controlplane.pki) and `vcsync serving-cert`: one
way to make an ECDSA P-256 leaf signed by a CA, so the certificates tests use and those the chart serves agree."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    fmt = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def subject(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def builder(name: x509.Name, issuer: x509.Name, public_key, validity: dt.timedelta) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + validity)
    )


def sign_leaf(
    ca_key,
    ca_name: x509.Name,
    name: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None,
    validity: dt.timedelta,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and its certificate for `usage` (server or client auth), naming `sans` when given."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = builder(name, ca_name, key.public_key(), validity).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )
    cert = cert.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        cert = cert.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, cert.sign(ca_key, hashes.SHA256())
