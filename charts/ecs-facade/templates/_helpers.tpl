{{/* The chart name, or nameOverride. */}}
{{- define "ecs-facade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The object name prefix: fullnameOverride, else release-chart (just the release name when
it already contains the chart name). 63 characters at most (DNS label).
*/}}
{{- define "ecs-facade.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "ecs-facade.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ecs-facade.labels" -}}
helm.sh/chart: {{ include "ecs-facade.chart" . }}
{{ include "ecs-facade.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ecs-facade
{{- end }}

{{/* Labels that select the operator pods (immutable in a Deployment: keep them few). */}}
{{- define "ecs-facade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-facade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "ecs-facade.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecs-facade.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's RBAC rules (files/rbac-rules.yaml, generated from operator/ecs_facade/rbac.py). */}}
{{- define "ecs-facade.rules" -}}
{{- $all := .Files.Get "files/rbac-rules.yaml" | fromYaml }}
{{- toYaml (index $all .set) }}
{{- end }}

{{/* The ECS API's Service (api.enabled). */}}
{{- define "ecs-facade.apiServiceName" -}}
{{- printf "%s-api" (include "ecs-facade.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ECS API Service's port: api.service.port, else 443 with TLS and 80 without. */}}
{{- define "ecs-facade.apiServicePort" -}}
{{- if .Values.api.service.port }}{{ .Values.api.service.port }}{{ else if .Values.api.tls.secretName }}443{{ else }}80{{ end }}
{{- end }}

{{/* Where the ECS API's Secrets are mounted in the operator's container (read-only). */}}
{{- define "ecs-facade.apiKeysDir" -}}/etc/ecs-facade/api-keys{{- end }}
{{- define "ecs-facade.apiTlsDir" -}}/etc/ecs-facade/api-tls{{- end }}
