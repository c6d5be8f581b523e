"""The serving certificate the chart's init container signs: which names and IPs it holds, and that the CA signed
it (pure: the Service's ClusterIP is given, not read from a host)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from syncer.controlplane.pki import write_pki
from syncer.servingcert import ServingCertError, serving_names, write_serving_cert


def test_serving_names_hold_the_cluster_ip_both_services_and_extra_sans() -> None:
    dns, ips = serving_names("vc1", "vc1-headless", "team-a", "corp.local", "10.96.0.7", ["vc.example.com", "fd00::1"])
    assert ips == ["127.0.0.1", "10.96.0.7", "fd00::1"]
    assert "kubernetes.default.svc.corp.local" in dns and "vc.example.com" in dns
    for host in ("vc1", "vc1-headless"):
        assert {host, f"{host}.team-a", f"{host}.team-a.svc", f"{host}.team-a.svc.cluster.local"} <= set(dns)


def test_serving_names_skip_a_headless_ip_and_repeats() -> None:
    dns, ips = serving_names("vc1", "", "t", "cluster.local", "None", ["127.0.0.1", "localhost"])
    assert ips == ["127.0.0.1"]
    assert len(dns) == len(set(dns)) and not any("headless" in name for name in dns)


def test_the_certificate_is_signed_by_the_ca_and_names_the_service_ip(tmp_path: Path) -> None:
    pki = write_pki(tmp_path / "ca", "10.0.0.1")
    out = tmp_path / "serving"
    out.mkdir()
    write_serving_cert(pki.ca_cert.parent, out, ["vc1.t.svc"], ["127.0.0.1", "10.96.0.7"])
    cert = x509.load_pem_x509_certificate((out / "apiserver.crt").read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.96.0.7") in sans.get_values_for_type(x509.IPAddress)
    assert sans.get_values_for_type(x509.DNSName) == ["vc1.t.svc"]
    assert (out / "apiserver.key").stat().st_mode & 0o777 == 0o600


def test_a_missing_ca_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServingCertError, match="cannot read the CA"):
        write_serving_cert(tmp_path, tmp_path, ["x"], ["127.0.0.1"])
