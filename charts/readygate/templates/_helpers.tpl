{{/* The prefix of every object's name, as config/ names them "readygate-". */}}
{{- define "readygate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "readygate.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{- define "readygate.labels" -}}
{{ include "readygate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "readygate.serviceAccountName" -}}
{{ include "readygate.fullname" . }}-controller-manager
{{- end -}}

{{- define "readygate.webhookService" -}}
{{ include "readygate.fullname" . }}-webhook-service
{{- end -}}

{{- define "readygate.metricsService" -}}
{{ include "readygate.fullname" . }}-controller-manager-metrics-service
{{- end -}}

{{- define "readygate.webhookSecret" -}}
{{ include "readygate.fullname" . }}-webhook-server-cert
{{- end -}}

{{- define "readygate.metricsSecret" -}}
{{ include "readygate.fullname" . }}-metrics-server-cert
{{- end -}}

{{/* The DNS names a Service's certificate is valid for. */}}
{{- define "readygate.dnsNames" -}}
- {{ .service }}.{{ .namespace }}.svc
- {{ .service }}.{{ .namespace }}.svc.cluster.local
{{- end -}}

{{/* The manager's arguments: one per flag, from values.yaml. */}}
{{- define "readygate.args" -}}
{{- $m := .Values.manager -}}
- --leader-elect={{ $m.leaderElect }}
- --leader-elect-lease-duration={{ $m.leaseDuration }}
- --leader-elect-renew-deadline={{ $m.renewDeadline }}
- --leader-elect-retry-period={{ $m.retryPeriod }}
- --graceful-shutdown-timeout={{ sub (sub (int .Values.terminationGracePeriodSeconds) (int (.Values.preStopSleepSeconds | default 5))) 3 }}s
- --health-probe-bind-address=:{{ $m.healthProbePort }}
- --pprof-bind-address={{ $m.pprofBindAddress }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
- --metrics-secure={{ .Values.metrics.secure }}
{{- if .Values.metrics.secure }}
- --metrics-cert-dir=/tmp/k8s-metrics-server/metrics-certs
{{- end }}
- --webhook-port={{ .Values.webhook.port }}
- --max-policies-per-namespace={{ .Values.webhook.maxPoliciesPerNamespace }}
- --webhook-client-ca-file={{ if .Values.webhook.clientCASecret }}/etc/readygate/webhook-client-ca/ca.crt{{ end }}
- --kube-api-qps={{ $m.kubeAPIQPS }}
- --kube-api-burst={{ $m.kubeAPIBurst }}
- --cache-sync-timeout={{ $m.cacheSyncTimeout }}
- --max-concurrent-reconciles={{ $m.maxConcurrentReconciles }}
- --source-workers={{ $m.sourceWorkers }}
- --evaluation-cost-per-namespace={{ int64 $m.evaluationCostPerNamespace }}
- --source-deny-cidrs={{ join "," $m.sourceDenyCIDRs }}
- --allow-host-network-sources={{ $m.allowHostNetworkSources }}
- --prometheus-allowed-urls={{ join "," $m.prometheusAllowedURLs }}
- --prometheus-namespace-header={{ $m.prometheusNamespaceHeader }}
- --reserved-condition-types={{ join "," $m.reservedConditionTypes }}
- --zap-devel={{ $m.log.development }}
- --zap-log-level={{ $m.log.level }}
- --zap-encoder={{ $m.log.encoder }}
- --zap-stacktrace-level={{ $m.log.stacktraceLevel }}
- --zap-time-encoding={{ $m.log.timeEncoding }}
{{- with $m.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}
