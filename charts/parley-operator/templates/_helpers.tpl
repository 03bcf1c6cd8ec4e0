{{/*
Names, labels and the small pieces every template of the parley-operator chart shares.
*/}}

{{/*
The chart name. Truncated at 63 characters because it becomes a label value, and label
values are limited to 63 characters.
*/}}
{{- define "parley-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name. Truncated at 63 characters so the names stay valid
DNS-1123 labels (the limit of names that become label values, such as a pod's ServiceAccount);
the release name is used alone when it already contains the chart name.
*/}}
{{- define "parley-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "parley-operator.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{/*
`chart` label: name and version, truncated at 63 characters because it is a label value;
`+` is not allowed in label values, so SemVer build metadata becomes `_`.
*/}}
{{- define "parley-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. These must never change between chart versions: a Deployment's selector
is immutable. The parley chart's NetworkPolicy admits the operator by
`app.kubernetes.io/name: parley-operator`.
*/}}
{{- define "parley-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "parley-operator.labels" -}}
helm.sh/chart: {{ include "parley-operator.chart" . }}
{{ include "parley-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: parley
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "parley-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "parley-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "parley-operator.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" $registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces whose Tenants the operator reconciles when it is not cluster-wide. */}}
{{- define "parley-operator.watchNamespaces" -}}
{{- default (list (include "parley-operator.namespace" .)) .Values.watchNamespaces | uniq | toJson -}}
{{- end -}}

{{/*
Rules on the Tenant resources and what the operator makes of them, shared by the per-namespace
Roles and the cluster-wide ClusterRole. kopf lists and watches Tenants, patches them for its
finalizer and progress annotations, and writes status through the status subresource;
`tenants/finalizers` lets it own objects with blockOwnerDeletion. It creates and keeps each
Tenant's `<slug>-admin` Secret (reading, creating and patching only that one by name),
and posts Events about its handlers.
*/}}
{{- define "parley-operator.tenantRules" -}}
- apiGroups: [parley.dev]
  resources: [tenants]
  verbs: [get, list, watch, patch, update]
- apiGroups: [parley.dev]
  resources: [tenants/status]
  verbs: [get, patch, update]
- apiGroups: [parley.dev]
  resources: [tenants/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/*
Peering: with more than one replica the pods run kopf's `--peering`, so only one of them
reconciles at a time. "true" or "" (templates test it with `if`).
*/}}
{{- define "parley-operator.peered" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end -}}
{{- end -}}

{{/* The name of the KopfPeering objects (or the ClusterKopfPeering) the replicas share. */}}
{{- define "parley-operator.peeringName" -}}
{{- default (include "parley-operator.fullname" .) .Values.peering.name -}}
{{- end -}}

{{/*
kopf's peering: it lists and watches the peering object and patches its own liveness
record into the status (kopf's docs, "Peering"). `kopfpeerings` in each watched namespace,
or `clusterkopfpeerings` with clusterWide.
*/}}
{{- define "parley-operator.peeringRules" -}}
- apiGroups: [kopf.dev]
  resources: [{{ ternary "clusterkopfpeerings" "kopfpeerings" .Values.clusterWide }}]
  verbs: [get, list, watch, patch]
{{- end -}}
