"""`vcsync serving-cert`: the chart's init container signs the virtual API server's serving certificate when its pod
starts. Helm renders before the vcluster Service exists, so a certificate made at render time cannot name the
Service's ClusterIP on a first install; at pod start the Service exists and its IP is read from the host."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from syncer.certs import pem_key, sign_leaf, subject
from syncer.config import SA_NAMESPACE_FILE
from syncer.kube.api import ApiError, KubeApi
from syncer.kube.client import connect
from syncer.ratelimit import TokenBucket
from vocab.resources import SERVICES

VALIDITY = dt.timedelta(days=3650)  # re-signed at every pod start; the CA (kept across upgrades) is what clients pin
HOST_DOMAIN = "cluster.local"  # the host Service's DNS names, as kubeadm-made host clusters name them


class ServingCertError(Exception):
    """A failure worth one sentence and exit code 1 (the kubelet retries the init container)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", required=True, help="the vcluster's host Service, whose ClusterIP is named")
    parser.add_argument("--headless-service", default="", help="the StatefulSet's headless Service, also named")
    parser.add_argument("--namespace", default="", help="their namespace (default: $POD_NAMESPACE, else the pod's)")
    parser.add_argument("--cluster-domain", default="cluster.local", help="the virtual cluster's DNS domain")
    parser.add_argument("--san", action="append", default=[], help="one more DNS name or IP to name (repeatable)")
    parser.add_argument("--ca-dir", type=Path, default=Path("/etc/vcsync/ca"), help="holds ca.crt and ca.key")
    parser.add_argument("--out-dir", type=Path, default=Path("/etc/vcsync/serving"), help="gets apiserver.crt/.key")
    parser.add_argument("--kubeconfig", default="", help="host kubeconfig (default: in-cluster)")


def serving_names(
    service: str, headless: str, namespace: str, cluster_domain: str, cluster_ip: str, extra: list[str]
) -> tuple[list[str], list[str]]:
    """The DNS names and IPs the serving certificate names: the virtual `kubernetes` Service's names, the host
    Services' names, loopback, the Service's ClusterIP and the operator's extra SANs (IPs told apart from names)."""
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append(f"kubernetes.default.svc.{cluster_domain}")
    for host in filter(None, (service, headless)):
        svc = f"{host}.{namespace}.svc"
        dns += [host, f"{host}.{namespace}", svc, f"{svc}.{HOST_DOMAIN}"]
    ips = ["127.0.0.1"]
    if cluster_ip and cluster_ip != "None":
        ips.append(cluster_ip)
    for san in extra:
        (ips if _is_ip(san) else dns).append(san)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def write_serving_cert(ca_dir: Path, out_dir: Path, dns: list[str], ips: list[str]) -> None:
    """Sign a fresh key's certificate with the CA in `ca_dir` into `out_dir` (the key readable by its owner only)."""
    try:
        ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
        ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise ServingCertError(f"cannot read the CA in {ca_dir}: {e}") from None
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    key, cert = sign_leaf(
        ca_key, ca_cert.subject, subject("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans, VALIDITY
    )
    key_path = out_dir / "apiserver.key"
    key_path.write_bytes(pem_key(key))
    key_path.chmod(0o600)
    (out_dir / "apiserver.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


async def _cluster_ip(kubeconfig: str, namespace: str, service: str) -> str:
    try:
        async with connect(kubeconfig or None) as api_client:
            api = KubeApi(api_client, "host", bucket=TokenBucket(5, 5))
            found = await api.get(SERVICES, namespace, service)
    except ApiError as e:
        raise ServingCertError(f"the host API server refused to read Service {namespace}/{service}: {e}") from None
    except (OSError, ValueError) as e:
        raise ServingCertError(f"cannot reach the host cluster ({kubeconfig or 'in-cluster'}): {e}") from None
    if found is None:
        raise ServingCertError(f"Service {namespace}/{service} does not exist on the host")
    return found.get("spec", {}).get("clusterIP", "")


def _namespace(chosen: str) -> str:
    if chosen:
        return chosen
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if Path(SA_NAMESPACE_FILE).exists():
        return Path(SA_NAMESPACE_FILE).read_text().strip()
    raise ServingCertError("no namespace: pass --namespace or set POD_NAMESPACE")


def run(args: argparse.Namespace) -> int:
    try:
        namespace = _namespace(args.namespace)
        cluster_ip = asyncio.run(_cluster_ip(args.kubeconfig, namespace, args.service))
        dns, ips = serving_names(
            args.service, args.headless_service, namespace, args.cluster_domain, cluster_ip, args.san
        )
        write_serving_cert(args.ca_dir, args.out_dir, dns, ips)
    except (ServingCertError, OSError) as e:
        print(f"vcsync serving-cert: {e}", file=sys.stderr)
        return 1
    print(f"vcsync serving-cert: signed {args.out_dir / 'apiserver.crt'} for {', '.join(ips)} and {len(dns)} names")
    return 0
