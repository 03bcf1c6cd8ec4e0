{{/*
Labels and annotations every CRD of the parley-crds chart carries.
*/}}

{{/*
`chart` label: name and version, truncated at 63 characters because it is a label value;
`+` is not allowed in label values, so SemVer build metadata becomes `_`.
*/}}
{{- define "parley-crds.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley-crds.labels" -}}
helm.sh/chart: {{ include "parley-crds.chart" . }}
app.kubernetes.io/name: parley-crds
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: parley
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "parley-crds.annotations" -}}
{{- if .Values.keep }}
helm.sh/resource-policy: keep
{{- end }}
{{- end -}}
