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
{{- $state := get $config "state" | default dict -}}
{{- $volume := include "pixq.quantityBytes" (.Values.api.stateVolume.sizeLimit | default "") -}}
{{- if and $volume (not (hasKey $state "max_bytes")) -}}
{{- /* The store's map from its volume: 90 %, so that the store says StateStoreFull (readiness 503)
     before the kubelet evicts the pod for going over the emptyDir's sizeLimit. */ -}}
{{- $_ := set $state "max_bytes" (div (mul (int64 $volume) 9) 10) -}}
{{- else if and $volume (gt (int64 $state.max_bytes) (int64 $volume)) -}}
{{- fail (printf "config.state.max_bytes (%d) is more than api.stateVolume.sizeLimit (%s): the pod would be evicted before the store says it is full; leave max_bytes unset to take 90 %% of the volume" (int64 $state.max_bytes) .Values.api.stateVolume.sizeLimit) -}}
{{- end -}}
{{- if $state -}}
{{- $_ := set $config "state" $state -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* A Kubernetes quantity (plain bytes, or Ki/Mi/Gi/Ti, K/M/G/T) as bytes; "" when empty. */}}
{{- define "pixq.quantityBytes" -}}
{{- if . -}}
{{- $q := toString . -}}
{{- $n := regexFind "^[0-9]+" $q -}}
{{- $unit := trimPrefix $n $q -}}
{{- $scale := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- if or (not $n) (not (hasKey $scale $unit)) -}}
{{- fail (printf "api.stateVolume.sizeLimit %q: a whole number of bytes, Ki, Mi, Gi or Ti (or K, M, G, T)" $q) -}}
{{- end -}}
{{- mul (int64 $n) (get $scale $unit) -}}
{{- end -}}
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
