{{/* Names: <release>-pixq, or the release name alone when it already contains "pixq". */}}
{{- define "pixq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pixq.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pixq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pixq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pixq.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pixq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pixq
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "api") */}}
{{- define "pixq.componentLabels" -}}
{{ include "pixq.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pixq.componentSelector" -}}
{{ include "pixq.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pixq.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pixq.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pixq.secretName" -}}
{{- default (printf "%s-auth" (include "pixq.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "pixq.claimName" -}}
{{- default (printf "%s-data" (include "pixq.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{- define "pixq.httpPort" -}}
{{- .Values.config.http.port | default 8080 -}}
{{- end -}}

{{- define "pixq.workerPort" -}}
{{- .Values.config.worker.port | default 9090 -}}
{{- end -}}

{{- define "pixq.jobsTopic" -}}
{{- printf "%sjobs" (.Values.config.kafka.topic_prefix | default "pixq.") -}}
{{- end -}}

{{/* The configuration file: .Values.config plus the keys the chart owns. */}}
{{- define "pixq.configFile" -}}
{{- $config := deepCopy .Values.config -}}
{{- $kafka := get $config "kafka" | default dict -}}
{{- $_ := set $kafka "bootstrap_servers" (required "kafka.bootstrapServers is required: host:port of your Kafka brokers" .Values.kafka.bootstrapServers) -}}
{{- $_ := set $config "kafka" $kafka -}}
{{- $storage := get $config "storage" | default dict -}}
{{- $_ := set $storage "root" .Values.persistence.mountPath -}}
{{- $_ := set $config "storage" $storage -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Worker autoscaler: "keda", "hpa" or "" (off). */}}
{{- define "pixq.workerAutoscaler" -}}
{{- $a := .Values.worker.autoscaling -}}
{{- if $a.enabled -}}
{{- if eq $a.engine "keda" -}}keda
{{- else if eq $a.engine "hpa" -}}hpa
{{- else if .Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject" -}}keda
{{- else -}}hpa
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pixq.prometheusOperator" -}}
{{- $m := .Values.monitoring.prometheusOperator -}}
{{- if or (eq $m "enabled") (and (eq $m "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
true
{{- end -}}
{{- end -}}

{{- define "pixq.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The pod-level security context every pixq pod runs with. */}}
{{- define "pixq.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pixq.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
Environment shared by both binaries. PIXQ_AUTH_API_KEY_SHA256 goes to both because both validate
the same file, in which auth.enabled needs keys.
*/}}
{{- define "pixq.commonEnv" -}}
- name: PIXQ_AUTH_API_KEY_SHA256
  valueFrom:
    secretKeyRef:
      name: {{ include "pixq.secretName" . }}
      key: api-key-sha256
{{- if .Values.kafka.propertiesSecret.name }}
- name: PIXQ_KAFKA_PROPERTIES
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.propertiesSecret.name }}
      key: {{ .Values.kafka.propertiesSecret.key }}
{{- end }}
{{- if .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
{{- end }}
{{- end -}}

{{/* Volumes of both Deployments: the config file, the shared volume, and /tmp. */}}
{{- define "pixq.volumes" -}}
- name: config
  configMap:
    name: {{ include "pixq.fullname" . }}-config
- name: data
  persistentVolumeClaim:
    claimName: {{ include "pixq.claimName" . }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{- define "pixq.volumeMounts" -}}
- name: config
  mountPath: /etc/pixq
  readOnly: true
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* The retention CronJob's name: at most 52 characters, as the Jobs it makes add 11. */}}
{{- define "pixq.retentionName" -}}
{{- printf "%s-retention" (include "pixq.fullname" . | trunc 42 | trimSuffix "-") -}}
{{- end -}}
