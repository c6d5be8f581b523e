"""The launcher's pure parts, no server needed: certificates chain to the CA with the right names, binaries are
found in the folders the user names first, and folders left by dead runs are swept."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import pytest
import yaml
from cryptography import x509

from syncer.controlplane import assets
from syncer.controlplane.cluster import kwok_node
from syncer.controlplane.pair import WORKDIR_PREFIX, sweep_stale_workdirs
from syncer.controlplane.pki import write_kubeconfig, write_pki


def test_serving_cert_is_signed_by_the_ca_and_names_loopback_and_the_service_ip(tmp_path):
    pki = write_pki(tmp_path, "10.96.0.1")
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1")} <= set(
        sans.get_values_for_type(x509.IPAddress)
    )
    assert "kubernetes.default.svc.cluster.local" in sans.get_values_for_type(x509.DNSName)
    assert oct(pki.sa_key.stat().st_mode & 0o777) == "0o600"


def test_admin_cert_is_in_system_masters_and_kubeconfig_embeds_it(tmp_path):
    pki = write_pki(tmp_path, "10.96.0.1")
    admin = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    assert admin.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    doc = yaml.safe_load(write_kubeconfig(tmp_path / "kc", "x", "https://127.0.0.1:1", pki).read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1"
    assert doc["users"][0]["user"]["client-certificate-data"]


def _fake_binaries(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)


def test_binaries_come_from_vcsync_assets_before_envtest_and_cache(tmp_path, monkeypatch):
    _fake_binaries(tmp_path / "mine", ["etcd"])
    _fake_binaries(tmp_path / "envtest", assets.BINARIES)
    monkeypatch.setenv("VCSYNC_ASSETS", str(tmp_path / "mine"))
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "envtest"))
    found = assets.locate()
    assert found["etcd"] == tmp_path / "mine" / "etcd"
    assert found["kwok"] == tmp_path / "envtest" / "kwok"


def test_missing_binaries_are_named_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("VCSYNC_ASSETS", str(tmp_path))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("VCSYNC_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(assets.ControlPlaneError, match="control-plane binaries missing: etcd, kube-apiserver"):
        assets.locate()


def test_cache_folder_is_keyed_by_every_pinned_version(monkeypatch, tmp_path):
    monkeypatch.setenv("VCSYNC_CACHE", str(tmp_path))
    v = assets.pinned_versions()
    key = assets.cache_dir().parent.name
    assert all(v[k] in key for k in ("KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION"))


def test_kwok_nodes_have_distinct_pools_and_only_the_third_is_tainted():
    nodes = [kwok_node(i, 10250) for i in range(3)]
    assert [n["metadata"]["labels"]["pool"] for n in nodes] == ["a", "b", "c"]
    assert [bool(n["spec"].get("taints")) for n in nodes] == [False, False, True]
    assert len({n["status"]["addresses"][0]["address"] for n in nodes}) == 3
    assert all(n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake" for n in nodes)


def test_stale_workdirs_of_dead_owners_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f"{WORKDIR_PREFIX}dead").mkdir()
    (tmp_path / f"{WORKDIR_PREFIX}dead" / "owner.pid").write_text(dead.stdout.strip())
    (tmp_path / f"{WORKDIR_PREFIX}live").mkdir()
    (tmp_path / f"{WORKDIR_PREFIX}live" / "owner.pid").write_text(str(os.getpid()))
    sweep_stale_workdirs(tmp_path)
    assert not (tmp_path / f"{WORKDIR_PREFIX}dead").exists()
    assert (tmp_path / f"{WORKDIR_PREFIX}live").exists()
