{{/*
Rules between values that values.schema.json cannot express. Each refuses, at `helm install` or
`helm template` time, a value the service would refuse at start-up (a crash-loop) or that would
cut requests short. Included once, from configmap.yaml, which every release renders.
*/}}
{{- define "turnover.validate" -}}
{{- $c := .Values.config -}}
{{- if not .Values.existingSecret }}
{{- if not .Values.secrets.amqpUrl }}
{{- fail "secrets.amqpUrl is required (the chart ships no default credentials): the broker URL, e.g. amqps://turnover:<password>@rabbitmq:5671/%2f; or set existingSecret" }}
{{- end }}
{{- if not .Values.secrets.postgresUrl }}
{{- fail "secrets.postgresUrl is required (the chart ships no default credentials): the database URL, e.g. postgres://turnover:<password>@postgres:5432/turnover?sslmode=verify-full&sslrootcert=/etc/turnover/tls/postgres/ca.crt; or set existingSecret" }}
{{- end }}
{{- end }}
{{- $keys := include "turnover.secretKeys" . | fromJson -}}
{{- if and (not $keys.apiKeys) (not $c.auth.allowAnonymous) }}
{{- fail "an API key is required: the pods listen on all addresses. Set secrets.apiKeys (or existingSecret with existingSecretKeys.apiKeys), or config.auth.allowAnonymous=true to serve without keys on purpose" }}
{{- end }}
{{- if lt (int64 $c.amqp.prefetch) (int64 $c.worker.batchSize) }}
{{- fail (printf "config.amqp.prefetch (%d) must be at least config.worker.batchSize (%d): the service refuses it, since batches could never fill" (int64 $c.amqp.prefetch) (int64 $c.worker.batchSize)) }}
{{- end }}
{{- if gt (int64 $c.drift.minRecords) (int64 $c.drift.window) }}
{{- fail (printf "config.drift.minRecords (%d) must be at most config.drift.window (%d): the service refuses it, since no PSI would ever be exported" (int64 $c.drift.minRecords) (int64 $c.drift.window)) }}
{{- end }}
{{- $queues := list $c.amqp.queue $c.amqp.rpcQueue $c.amqp.deadLetterQueue }}
{{- if ne (len ($queues | uniq)) 3 }}
{{- fail (printf "config.amqp.queue, config.amqp.rpcQueue and config.amqp.deadLetterQueue must be three different queues (got %s): the service refuses it" (join ", " $queues)) }}
{{- end }}
{{- with $c.model.riskCuts }}
{{- if gt (float64 (index . 0)) (float64 (index . 1)) }}
{{- fail (printf "config.model.riskCuts must be two increasing probabilities, like [0.3, 0.7]; got %v" .) }}
{{- end }}
{{- end }}
{{- $drainSeconds := div (add (int64 $c.worker.shutdownTimeoutMs) 999) 1000 -}}
{{- $needed := add (int64 .Values.preStopSleepSeconds) $drainSeconds -}}
{{- if le (int64 .Values.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds (%d) + config.worker.shutdownTimeoutMs (%d s) = %d s, or Kubernetes kills pods in the middle of their drain" (int64 .Values.terminationGracePeriodSeconds) (int64 .Values.preStopSleepSeconds) $drainSeconds $needed) }}
{{- end }}
{{- if .Values.keda.enabled }}
{{- if and (not .Values.split.enabled) (lt (int64 .Values.keda.minReplicaCount) 1) }}
{{- fail "keda.minReplicaCount must be at least 1 when the scaled Deployment serves POST /predict (split.enabled=false): at zero replicas /predict has no listener, and no queue grows to wake KEDA" }}
{{- end }}
{{- if gt (int64 .Values.keda.minReplicaCount) (int64 .Values.keda.maxReplicaCount) }}
{{- fail (printf "keda.minReplicaCount (%d) is above keda.maxReplicaCount (%d)" (int64 .Values.keda.minReplicaCount) (int64 .Values.keda.maxReplicaCount)) }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.secrets.kedaHost) (contains "," .Values.secrets.amqpUrl) }}
{{- fail "secrets.amqpUrl lists several brokers, but KEDA's RabbitMQ scaler takes one host: set secrets.kedaHost to one of them" }}
{{- end }}
{{- end }}
{{- if and .Values.prometheusRule.enabled (not .Values.prometheusRule.runbookBaseUrl) }}
{{- fail "prometheusRule.runbookBaseUrl is required with prometheusRule.enabled: the absolute URL of docs/operations.md as your team reads it (each alert links to <url>#<alert name in lower case>)" }}
{{- end }}
{{- if and .Values.tls.amqp.secretName (or .Values.tls.amqp.certKey .Values.tls.amqp.keyKey) (not (and .Values.tls.amqp.certKey .Values.tls.amqp.keyKey)) }}
{{- fail "tls.amqp.certKey and tls.amqp.keyKey go together (mutual TLS needs both the certificate and its key)" }}
{{- end }}
{{- end }}
