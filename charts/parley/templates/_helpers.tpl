{{/*
Names, labels and the small pieces every template of the parley chart shares.
*/}}

{{/*
The chart name. Truncated at 63 characters because it becomes a label value, and label
values are limited to 63 characters.
*/}}
{{- define "parley.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name. Truncated at 63 characters because Service names are
DNS-1035 labels (63 characters at most); the release name is used alone when it already
contains the chart name, so `helm install parley` gives `parley-auth`, not `parley-parley-auth`.
*/}}
{{- define "parley.fullname" -}}
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

{{/*
The name of one component's objects (`<fullname>-auth`, `<fullname>-chat-migrate`...).
Truncated at 63 characters for the same DNS-1035 limit; called with (dict "ctx" $ "name" "auth").
*/}}
{{- define "parley.componentName" -}}
{{- printf "%s-%s" (include "parley.fullname" .ctx) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{/*
`chart` label: name and version, truncated at 63 characters because it is a label value;
`+` is not allowed in label values, so SemVer build metadata becomes `_`.
*/}}
{{- define "parley.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels of one component. These must never change between chart versions: a
Deployment's selector is immutable, so adding a label here would break every upgrade.
tests/chart checks that they stay the same when the chart and app versions change.
Called with (dict "ctx" $ "component" "auth").
*/}}
{{- define "parley.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
All labels of one component's objects. Called with (dict "ctx" $ "component" "auth").
*/}}
{{- define "parley.labels" -}}
helm.sh/chart: {{ include "parley.chart" .ctx }}
{{ include "parley.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: parley
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "parley.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "parley.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A component's image reference: `registry/repository@digest` when a digest is set, else
`registry/repository:tag` with the chart's appVersion as the default tag.
Called with (dict "ctx" $ "image" .Values.auth.image).
*/}}
{{- define "parley.image" -}}
{{- $registry := default .image.registry .ctx.Values.global.imageRegistry -}}
{{- $repository := .image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" $registry .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Pull secrets of every pod: the global ones and the chart's own. */}}
{{- define "parley.imagePullSecrets" -}}
{{- with concat .Values.global.imagePullSecrets .Values.imagePullSecrets -}}
imagePullSecrets:
{{ toYaml . | indent 2 }}
{{- end -}}
{{- end -}}

{{/* Secret names. */}}
{{- define "parley.adminTokenSecret" -}}
{{- default (include "parley.componentName" (dict "ctx" . "name" "admin-token")) .Values.adminToken.existingSecret -}}
{{- end -}}

{{/* Keys in those Secrets: the chart's own Secrets use fixed keys, existing ones the configured key. */}}
{{- define "parley.adminTokenKey" -}}
{{- ternary .Values.adminToken.existingSecretKey "admin-token" (not (empty .Values.adminToken.existingSecret)) -}}
{{- end -}}

{{- define "parley.signingKeyKey" -}}
{{- ternary .Values.auth.signingKey.existingSecretKey "signing-key.pem" (not (empty .Values.auth.signingKey.existingSecret)) -}}
{{- end -}}

{{- define "parley.signingKeySecret" -}}
{{- default (include "parley.componentName" (dict "ctx" . "name" "signing-key")) .Values.auth.signingKey.existingSecret -}}
{{- end -}}

{{- define "parley.connectionSecret" -}}
{{- include "parley.componentName" (dict "ctx" . "name" "connection") -}}
{{- end -}}

{{- define "parley.migrationsSecret" -}}
{{- include "parley.componentName" (dict "ctx" . "name" "migrations") -}}
{{- end -}}

{{/*
Where one component's database URL comes from, as (dict "secret" name "key" key "url" url):
the component's own database.* wins over externalDatabase.*, an existing Secret wins over a
host, and a host over a URL. "url" is set only when the chart itself stores the URL (under
"key" of its own Secret). With a host, the URL is "composed" in the container from the parts
and a password read from an existing Secret into PARLEY_DATABASE_PASSWORD, which Kubernetes
expands where `$(PARLEY_DATABASE_PASSWORD)` appears in a later variable's value (dependent
environment variables): the Secrets the Bitnami and CloudNativePG charts create hold a
password, not a URL.
Called with (dict "ctx" $ "component" "auth").
*/}}
{{- define "parley.databaseSource" -}}
{{- $own := (index .ctx.Values .component).database -}}
{{- $shared := .ctx.Values.externalDatabase -}}
{{- if $own.existingSecret -}}
{{- dict "secret" $own.existingSecret "key" $own.existingSecretKey | toJson -}}
{{- else if $own.url -}}
{{- dict "secret" "" "key" (printf "%s-database-url" .component) "url" $own.url | toJson -}}
{{- else if $shared.existingSecret -}}
{{- dict "secret" $shared.existingSecret "key" $shared.existingSecretKey | toJson -}}
{{- else if $shared.host -}}
{{- if not $shared.passwordSecret -}}
{{- fail "externalDatabase.host needs externalDatabase.passwordSecret: the Secret holding the password" -}}
{{- end -}}
{{- $query := ternary "" (printf "?%s" $shared.parameters) (empty $shared.parameters) -}}
{{- $url := printf "postgresql://%s:$(PARLEY_DATABASE_PASSWORD)@%s:%v/%s%s" $shared.user $shared.host (int $shared.port) $shared.database $query -}}
{{- dict "composed" $url "passwordSecret" $shared.passwordSecret "passwordSecretKey" $shared.passwordSecretKey | toJson -}}
{{- else if $shared.url -}}
{{- dict "secret" "" "key" "database-url" "url" $shared.url | toJson -}}
{{- else -}}
{{- fail (printf "set externalDatabase.url, externalDatabase.existingSecret or %s.database.*: the services need PostgreSQL" .component) -}}
{{- end -}}
{{- end -}}

{{/*
Where the Redis URL comes from, as (dict "secret" name "key" key) or, with a host,
(dict "composed" url "passwordSecret" name "passwordSecretKey" key), composed in the
container like the database's; an existing Secret wins over a host, a host over the URL.
*/}}
{{- define "parley.redisSource" -}}
{{- $redis := .Values.externalRedis -}}
{{- if $redis.existingSecret -}}
{{- dict "secret" $redis.existingSecret "key" $redis.existingSecretKey | toJson -}}
{{- else if $redis.host -}}
{{- $scheme := ternary "rediss" "redis" $redis.tls -}}
{{- $auth := "" -}}
{{- if $redis.passwordSecret -}}
{{- $auth = printf "%s:$(PARLEY_REDIS_PASSWORD)@" $redis.user -}}
{{- end -}}
{{- $url := printf "%s://%s%s:%v/%v" $scheme $auth $redis.host (int $redis.port) (int $redis.database) -}}
{{- dict "composed" $url "passwordSecret" $redis.passwordSecret "passwordSecretKey" $redis.passwordSecretKey | toJson -}}
{{- else -}}
{{- dict "secret" (include "parley.connectionSecret" .) "key" "redis-url" | toJson -}}
{{- end -}}
{{- end -}}

{{/*
The environment of one component's container, in the Deployment and (with "migrate" true)
in its migration Job. The Job gets only what `migrate` reads, because it runs as a
pre-install hook before the release's other Secrets exist.
Called with (dict "ctx" $ "component" "auth" "migrate" false).
*/}}
{{- define "parley.env" -}}
{{- $ctx := .ctx -}}
{{- $values := index $ctx.Values .component -}}
{{- $database := include "parley.databaseSource" (dict "ctx" $ctx "component" .component) | fromJson -}}
{{- $databaseSecret := $database.secret -}}
{{- if not $databaseSecret -}}
{{- $databaseSecret = ternary (include "parley.migrationsSecret" $ctx) (include "parley.connectionSecret" $ctx) .migrate -}}
{{- end -}}
- name: PARLEY_DATA_DIR
  value: /tmp/parley
- name: PARLEY_LOG_LEVEL
  value: {{ $ctx.Values.config.logLevel | quote }}
{{- if $database.composed }}
- name: PARLEY_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $database.passwordSecret }}
      key: {{ $database.passwordSecretKey }}
- name: PARLEY_DATABASE_URL
  value: {{ $database.composed | quote }}
{{- else }}
- name: PARLEY_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $databaseSecret }}
      key: {{ $database.key }}
{{- end }}
{{- if not .migrate }}
- name: PARLEY_HOST
  value: 0.0.0.0
- name: PARLEY_PORT
  value: "8000"
{{- if $ctx.Values.grpc.enabled }}
- name: PARLEY_GRPC_PORT
  value: {{ $ctx.Values.grpc.port | int64 | quote }}
{{- end }}
- name: PARLEY_FORWARDED_ALLOW_IPS
  value: {{ $ctx.Values.config.forwardedAllowIps | quote }}
{{- with $ctx.Values.config.corsOrigins }}
- name: PARLEY_CORS_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- $redis := include "parley.redisSource" $ctx | fromJson }}
{{- if $redis.composed }}
{{- with $redis.passwordSecret }}
- name: PARLEY_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $redis.passwordSecretKey }}
{{- end }}
- name: PARLEY_REDIS_URL
  value: {{ $redis.composed | quote }}
{{- else }}
- name: PARLEY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $redis.secret }}
      key: {{ $redis.key }}
{{- end }}
- name: PARLEY_REDIS_PREFIX
  value: {{ $ctx.Values.externalRedis.keyPrefix | quote }}
{{- if $ctx.Values.externalRedis.cluster }}
- name: PARLEY_REDIS_CLUSTER
  value: "true"
{{- end }}
- name: PARLEY_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "parley.adminTokenSecret" $ctx }}
      key: {{ include "parley.adminTokenKey" $ctx }}
{{- if eq .component "auth" }}
- name: PARLEY_SIGNING_KEY_FILE
  value: /etc/parley/signing-key/signing-key.pem
{{- else }}
- name: PARLEY_AUTH_URL
  value: {{ default (printf "http://%s:%v" (include "parley.componentName" (dict "ctx" $ctx "name" "auth")) $ctx.Values.auth.service.port) $values.authUrl | quote }}
- name: PARLEY_WORKERS
  value: {{ $values.workers | int64 | quote }}
{{- range $name, $value := $values.rateLimits }}
- name: PARLEY_{{ snakecase $name | upper }}
  {{- /* int64: a YAML number arrives as a float, which toString writes as 1e+06. */}}
  value: {{ $value | int64 | quote }}
{{- end }}
{{- with $ctx.Values.objectStorage }}
{{- if .bucket }}
- name: PARLEY_S3_BUCKET
  value: {{ .bucket | quote }}
- name: PARLEY_S3_REGION
  value: {{ .region | quote }}
{{- with .endpoint }}
- name: PARLEY_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if .existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .secretAccessKeyKey }}
{{- end }}
{{- end }}
{{- end }}
- name: PARLEY_EVENT_RETENTION_SECONDS
  value: {{ $values.eventRetentionSeconds | int64 | quote }}
{{- end }}
{{- with $ctx.Values.config.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_SERVICE_NAME
  value: parley-{{ $.component }}
{{- end }}
{{- range $name, $value := $values.env }}
- name: PARLEY_{{ $name | upper }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
One NetworkPolicy peer from a (podSelector, namespaceSelector) pair of values; without a
namespaceSelector the peer is in the release namespace.
*/}}
{{- define "parley.networkPolicyPeer" -}}
- podSelector:
    {{- toYaml .podSelector | nindent 4 }}
  {{- with .namespaceSelector }}
  namespaceSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
Annotations that skip the checkov checks a workload fails on purpose, each with its reason,
and only when it would fail (tests/chart runs checkov over the rendered manifests and allows
no other failure). Called with (dict "ctx" $ "image" .Values.auth.image).
*/}}
{{- define "parley.checkovSkips" -}}
{{- if not .image.digest }}
checkov.io/skip1: CKV_K8S_43=Images are pinned by release tag by default; set image.digest to pin by digest.
{{- end }}
{{- if and (not .image.digest) (ne .image.pullPolicy "Always") }}
checkov.io/skip2: CKV_K8S_15=IfNotPresent suits immutable release tags and images loaded into kind; set image.pullPolicy to Always if your registry reuses tags.
{{- end }}
checkov.io/skip3: CKV_K8S_35=The services read the database URL, Redis URL and admin token only from PARLEY_* environment variables (docs/api.md, Running it); the values still come from Secrets.
{{- end -}}

{{/*
The gRPC services each component serves (the protos under proto/parley), as JSON: what the gRPC Ingress
and the GRPCRoute route. The standard health and reflection services go to chat, so that a
client at the public address can check health and list chat's API with grpcurl.
*/}}
{{- define "parley.grpcServices" -}}
{{- list
  (dict "service" "parley.auth.v1.AuthService" "component" "auth")
  (dict "service" "parley.auth.v1.TenantUserService" "component" "auth")
  (dict "service" "parley.chat.v1.ChatService" "component" "chat")
  (dict "service" "parley.chat.v1.TenantEventService" "component" "chat")
  (dict "service" "grpc.health.v1.Health" "component" "chat")
  (dict "service" "grpc.reflection.v1.ServerReflection" "component" "chat")
  (dict "service" "grpc.reflection.v1alpha.ServerReflection" "component" "chat")
  | toJson }}
{{- end }}

{{/*
The origin of the presigned URLs chat hands out for attachments (path-style, as
parley_chat.storage.files signs them): objectStorage.endpoint's, or AWS S3's in its region;
empty without a bucket.
*/}}
{{- define "parley.storeOrigin" -}}
{{- with .Values.objectStorage }}
{{- if .bucket }}
{{- if .endpoint }}
{{- $url := urlParse .endpoint }}
{{- printf "%s://%s" $url.scheme $url.host }}
{{- else if eq .region "us-east-1" }}
{{- print "https://s3.amazonaws.com" }}
{{- else }}
{{- printf "https://s3.%s.amazonaws.com" .region }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
