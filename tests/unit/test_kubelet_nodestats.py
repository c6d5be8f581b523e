"""Node figures as a tenant sees them: series and summary entries of this vcluster's pods under virtual names, those of
every other pod (another vcluster's, the host's own) dropped, node-level figures kept."""

from __future__ import annotations

from syncer.kubelet.nodestats import rewrite_prometheus, rewrite_summary

OURS = {
    ("team-a", "web-x-shop-x-vc"): {
        "metadata": {"name": "web", "namespace": "shop", "uid": "v-uid"},
        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
    }
}


def resolve(namespace: str, name: str):
    return OURS.get((namespace, name))


def test_pod_series_are_renamed_and_foreign_ones_dropped():
    text = "\n".join(
        [
            "# HELP container_memory_working_set_bytes Current working set",
            "# TYPE container_memory_working_set_bytes gauge",
            'container_memory_working_set_bytes{container="c",namespace="team-a",pod="web-x-shop-x-vc"} 2048 17000',
            'container_memory_working_set_bytes{container="c",namespace="team-a",pod="db-x-shop-x-other"} 4096',
            'container_memory_working_set_bytes{container="c",namespace="kube-system",pod="coredns-1"} 1',
            "node_memory_working_set_bytes 8192",
            'scrape_error{node="n"} 0',
        ]
    )
    assert rewrite_prometheus(text, resolve).splitlines() == [
        "# HELP container_memory_working_set_bytes Current working set",
        "# TYPE container_memory_working_set_bytes gauge",
        'container_memory_working_set_bytes{container="c",namespace="shop",pod="web"} 2048 17000',
        "node_memory_working_set_bytes 8192",
        'scrape_error{node="n"} 0',
    ]


def test_series_naming_host_objects_that_cannot_be_mapped_are_dropped():
    text = "\n".join(
        [
            'kubelet_volume_stats_used_bytes{namespace="team-a",persistentvolumeclaim="data-x-shop-x-vc"} 1',
            'pod_count{namespace="team-a"} 7',
            'odd{pod="web-x-shop-x-vc"} 1',
            "not a sample line",
            'broken{namespace="team-a",pod="web-x-shop-x-vc" 1',
        ]
    )
    assert rewrite_prometheus(text, resolve) == "\n"


def test_label_values_with_escapes_survive_and_uids_are_virtual():
    line = r'm{a="say \"hi\"",namespace="team-a",pod="web-x-shop-x-vc",uid="host-uid"} 1'
    assert rewrite_prometheus(line, resolve) == 'm{a="say \\"hi\\"",namespace="shop",pod="web",uid="v-uid"} 1\n'


def test_summary_keeps_the_node_and_only_our_pods_with_virtual_refs():
    summary = {
        "node": {"nodeName": "node-a", "memory": {"workingSetBytes": 10}},
        "pods": [
            {
                "podRef": {"name": "web-x-shop-x-vc", "namespace": "team-a", "uid": "host-uid"},
                "memory": {"workingSetBytes": 5},
                "volume": [
                    {"name": "data", "pvcRef": {"name": "data-x-shop-x-vc", "namespace": "team-a"}, "usedBytes": 1},
                    {"name": "kube-api-access", "usedBytes": 2},
                ],
            },
            {"podRef": {"name": "db-x-shop-x-other", "namespace": "team-a", "uid": "x"}},
            {"podRef": {"name": "kube-proxy-1", "namespace": "kube-system", "uid": "y"}},
        ],
    }
    assert rewrite_summary(summary, resolve) == {
        "node": {"nodeName": "node-a", "memory": {"workingSetBytes": 10}},
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "shop", "uid": "v-uid"},
                "memory": {"workingSetBytes": 5},
                "volume": [
                    {"name": "data", "pvcRef": {"name": "data", "namespace": "shop"}, "usedBytes": 1},
                    {"name": "kube-api-access", "usedBytes": 2},
                ],
            }
        ],
    }
