{{/*
Names, labels, the enabled kinds, the host permissions they need, and the vcsync command line. Everything the
syncer is told and everything it is allowed to do is derived here, in one place, from the same values.
*/}}

{{- define "vcsync.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vcsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vcsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vcsync.selectorLabels" -}}
app.kubernetes.io/name: vcsync
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* S: the vcluster name in host names and markers. */}}
{{- define "vcsync.vclusterName" -}}
{{- .Values.syncer.flags.name | default .Release.Name -}}
{{- end -}}

{{/* T: the host namespace synced objects go to. */}}
{{- define "vcsync.targetNamespace" -}}
{{- .Values.syncer.flags.targetNamespace | default .Release.Namespace -}}
{{- end -}}

{{- define "vcsync.serviceName" -}}
{{- .Values.syncer.flags.serviceName | default (include "vcsync.fullname" .) -}}
{{- end -}}

{{- define "vcsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "vcsync.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "vcsync.workloadServiceAccountName" -}}
{{- .Values.workloadServiceAccount.name | default (printf "%s-workload" (include "vcsync.fullname" .)) -}}
{{- end -}}

{{- define "vcsync.clusterRoleName" -}}
{{- printf "vcsync-%s-%s" .Release.Namespace (include "vcsync.fullname" .) | trunc 253 -}}
{{- end -}}

{{- define "vcsync.certsSecretName" -}}
{{- printf "%s-certs" (include "vcsync.fullname" .) -}}
{{- end -}}

{{/* SCN("vcluster", S, "controller") of SPEC §3: the leader Lease. */}}
{{- define "vcsync.leaseName" -}}
{{- $full := printf "vcluster-%s-controller" (include "vcsync.vclusterName" .) -}}
{{- if gt (len $full) 63 -}}
{{- printf "%s-%s" (trunc 52 $full) (trunc 10 (sha256sum $full)) | replace ".-" "-" -}}
{{- else -}}
{{- $full -}}
{{- end -}}
{{- end -}}

{{- define "vcsync.image" -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* The port of a vcsync bind address (":8081", "0.0.0.0:8081"); "" when it is "0" (disabled). */}}
{{- define "vcsync.bindPort" -}}
{{- if ne (toString .) "0" -}}
{{- regexReplaceAll "^.*:" (toString .) "" -}}
{{- end -}}
{{- end -}}

{{- define "vcsync.healthPort" -}}
{{- include "vcsync.bindPort" (.Values.syncer.flags.healthBindAddress | default ":8081") -}}
{{- end -}}

{{- define "vcsync.kubeletPort" -}}
{{- include "vcsync.bindPort" (.Values.syncer.flags.kubeletBindAddress | default ":10250") -}}
{{- end -}}

{{- define "vcsync.metricsPort" -}}
{{- include "vcsync.bindPort" (.Values.syncer.flags.metricsBindAddress | default ":8080") -}}
{{- end -}}

{{/*
The enabled kinds as a JSON object {kind: true}, by vcsync's rules (SPEC §11.2): start from the default set, add the
enabled, remove the disabled (disables win); ingresses bring ingressclasses unless disabled; nodes replace fake-nodes.
*/}}
{{- define "vcsync.kinds" -}}
{{- $defaults := list "services" "configmaps" "secrets" "endpoints" "pods" "events" "persistentvolumeclaims" "fake-nodes" "fake-persistentvolumes" -}}
{{- $optional := list "endpointslices" "ingresses" "ingressclasses" "nodes" "networkpolicies" "poddisruptionbudgets" "priorityclasses" "storageclasses" "hoststorageclasses" "serviceaccounts" -}}
{{- $later := list "persistentvolumes" "volumesnapshots" "csinodes" "csidrivers" "csistoragecapacities" "namespaces" -}}
{{- $valid := concat $defaults $optional -}}
{{- $enable := dict -}}
{{- $disable := dict -}}
{{- range $item := .Values.sync -}}
{{- range $entry := splitList "," (toString $item) -}}
{{- $entry = trim $entry -}}
{{- if $entry -}}
{{- $kind := $entry | trimPrefix "+" | trimPrefix "-" -}}
{{- if has $kind $later -}}
{{- fail (printf "sync: kind %s is not implemented yet" $kind) -}}
{{- end -}}
{{- if not (has $kind $valid) -}}
{{- fail (printf "sync: unknown kind %s; valid kinds: %s" $kind (sortAlpha $valid | join ", ")) -}}
{{- end -}}
{{- if hasPrefix "-" $entry -}}
{{- $_ := set $disable $kind true -}}
{{- else -}}
{{- $_ := set $enable $kind true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $enabled := dict -}}
{{- range $kind := $defaults -}}
{{- $_ := set $enabled $kind true -}}
{{- end -}}
{{- range $kind, $_ := $enable -}}
{{- $_ := set $enabled $kind true -}}
{{- end -}}
{{- range $kind, $_ := $disable -}}
{{- $_ := unset $enabled $kind -}}
{{- end -}}
{{- if and (hasKey $enabled "ingresses") (not (hasKey $disable "ingressclasses")) -}}
{{- $_ := set $enabled "ingressclasses" true -}}
{{- end -}}
{{- if hasKey $enabled "nodes" -}}
{{- $_ := unset $enabled "fake-nodes" -}}
{{- end -}}
{{- if and (hasKey $enabled "storageclasses") (hasKey $enabled "hoststorageclasses") -}}
{{- fail "sync: kinds storageclasses and hoststorageclasses cannot both be enabled, since one syncs virtual StorageClasses to the host and the other mirrors host ones into virtual" -}}
{{- end -}}
{{- if and .Values.syncer.flags.syncAllNodes (not (hasKey $enabled "nodes")) -}}
{{- fail "syncer.flags.syncAllNodes needs the nodes kind; add nodes to sync" -}}
{{- end -}}
{{- toJson $enabled -}}
{{- end -}}

{{/*
What each kind needs on the host (SPEC §8.5), as YAML: kind -> list of [scope, apiGroup, resource, access] where scope
is "ns" (the target namespace) or "cluster", and access is "rw" (CRUD with list/watch), "ro" (get/list/watch) or a
single verb ("connect": get and create, for upgrade subresources). The pseudo-kind "kubelet" is vcsync's kubelet
endpoint, on unless kubeletBindAddress is "0"; "kubelet-node-stats" its opt-in node figures (the host's nodes/proxy, a
cluster-wide and powerful permission). Besides its own resource a kind may read others its controller watches (pods for node and endpoint
address checks, the DNS Service for pods) or write derived objects (token Secrets for pods).
*/}}
{{- define "vcsync.kindAccess" -}}
configmaps: [[ns, "", configmaps, rw]]
secrets: [[ns, "", secrets, rw]]
services: [[ns, "", services, rw]]
pods: [[ns, "", pods, rw], [ns, "", pods/status, patch], [ns, "", secrets, rw], [ns, "", services, ro]]
endpoints: [[ns, "", endpoints, rw], [ns, "", pods, ro]]
endpointslices: [[ns, discovery.k8s.io, endpointslices, rw], [ns, "", pods, ro]]
persistentvolumeclaims: [[ns, "", persistentvolumeclaims, rw]]
events: [[ns, "", events, ro]]
fake-nodes: [[ns, "", pods, ro]]
fake-persistentvolumes: []
nodes: [[cluster, "", nodes, ro], [ns, "", pods, ro]]
ingresses: [[ns, networking.k8s.io, ingresses, rw]]
ingressclasses: [[cluster, networking.k8s.io, ingressclasses, ro]]
networkpolicies: [[ns, networking.k8s.io, networkpolicies, rw]]
poddisruptionbudgets: [[ns, policy, poddisruptionbudgets, rw]]
priorityclasses: [[cluster, scheduling.k8s.io, priorityclasses, rw]]
storageclasses: [[cluster, storage.k8s.io, storageclasses, rw]]
hoststorageclasses: [[cluster, storage.k8s.io, storageclasses, ro]]
serviceaccounts: [[ns, "", serviceaccounts, rw]]
kubelet: [[ns, "", pods, ro], [ns, "", pods/log, get], [ns, "", pods/exec, connect], [ns, "", pods/attach, connect], [ns, "", pods/portforward, connect]]
kubelet-node-stats: [[cluster, "", nodes, get], [cluster, "", nodes/proxy, get]]
{{- end -}}

{{/*
The RBAC rules for one scope ("ns" or "cluster") of the enabled kinds, as a YAML list: one rule per (group, resource)
with the union of the verbs all kinds need, sorted so renders are stable. Empty output means no rule.
*/}}
{{- define "vcsync.rules" -}}
{{- $scope := .scope -}}
{{- $root := .root -}}
{{- $kinds := include "vcsync.kinds" $root | fromJson -}}
{{- if include "vcsync.kubeletPort" $root -}}
{{- $_ := set $kinds "kubelet" true -}}
{{- if $root.Values.syncer.flags.kubeletNodeStats -}}
{{- $_ := set $kinds "kubelet-node-stats" true -}}
{{- end -}}
{{- end -}}
{{- $access := include "vcsync.kindAccess" $root | fromYaml -}}
{{- $verbs := dict "rw" (list "get" "list" "watch" "create" "update" "patch" "delete") "ro" (list "get" "list" "watch") "connect" (list "get" "create") -}}
{{- $order := list "get" "list" "watch" "create" "update" "patch" "delete" -}}
{{- $byResource := dict -}}
{{- range $kind, $_ := $kinds -}}
{{- range $need := index $access $kind -}}
{{- if eq (index $need 0) $scope -}}
{{- $key := printf "%s|%s" (index $need 1) (index $need 2) -}}
{{- $want := index $verbs (index $need 3) | default (list (index $need 3)) -}}
{{- $_ := set $byResource $key (concat (get $byResource $key | default list) $want | uniq) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key := keys $byResource | sortAlpha }}
{{- $parts := splitList "|" $key }}
{{- $have := index $byResource $key }}
{{- $sorted := list }}
{{- range $verb := $order }}{{ if has $verb $have }}{{ $sorted = append $sorted $verb }}{{ end }}{{ end }}
- apiGroups: {{ list (index $parts 0) | toJson }}
  resources: {{ list (index $parts 1) | toJson }}
  verbs: {{ toJson $sorted }}
{{- end }}
{{- end -}}

{{/*
The flags vcsync gets: the chart's own (names, namespaces, credentials, the workload ServiceAccount, CoreDNS on) under
the user's syncer.flags; null or empty values are left out, so vcsync's defaults apply.
*/}}
{{- define "vcsync.flagValues" -}}
{{- $flags := dict
  "name" (include "vcsync.vclusterName" .)
  "targetNamespace" (include "vcsync.targetNamespace" .)
  "serviceName" (include "vcsync.serviceName" .)
  "virtualKubeconfig" "/var/run/vcsync/virtual/kubeconfig"
  "coredns" true
-}}
{{- if .Values.workloadServiceAccount.create -}}
{{- $_ := set $flags "serviceAccount" (include "vcsync.workloadServiceAccountName" .) -}}
{{- end -}}
{{- if include "vcsync.kubeletPort" . -}}
{{- $_ := set $flags "kubeletEgressSocket" "/var/run/vcsync/kubelet/egress.sock" -}}
{{- $_ := set $flags "kubeletApiserverUser" "kube-apiserver-kubelet-client" -}}
{{- end -}}
{{- range $key, $value := .Values.syncer.flags -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $flags $key $value -}}
{{- end -}}
{{- end -}}
{{- $_ := set $flags "sync" .Values.sync -}}
{{- toJson $flags -}}
{{- end -}}

{{/* One flag value as vcsync parses it: booleans lower case, whole numbers without exponent or decimals. */}}
{{- define "vcsync.flagText" -}}
{{- if kindIs "bool" . -}}
{{- ternary "true" "false" . -}}
{{- else if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- if eq (float64 .) (floor .) -}}
{{- int64 . -}}
{{- else -}}
{{- regexReplaceAll "0+$" (printf "%f" (float64 .)) "" -}}
{{- end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* `vcsync run` arguments, one `--flag=value` per item (list flags repeated), in flag-name order. */}}
{{- define "vcsync.args" -}}
{{- $flags := include "vcsync.flagValues" . | fromJson -}}
- run
{{- range $key, $value := $flags }}
{{- $option := printf "--%s" (kebabcase $key) }}
{{- if kindIs "slice" $value }}
{{- range $item := $value }}
- {{ printf "%s=%s" $option (include "vcsync.flagText" $item) | quote }}
{{- end }}
{{- else if ne (include "vcsync.flagText" $value) "" }}
- {{ printf "%s=%s" $option (include "vcsync.flagText" $value) | quote }}
{{- end }}
{{- end }}
{{- end -}}
