{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "turnover.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart, unless the release already contains the chart name. */}}
{{- define "turnover.fullname" -}}
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

{{- define "turnover.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "turnover.labels" -}}
helm.sh/chart: {{ include "turnover.chart" . }}
{{ include "turnover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "turnover.selectorLabels" -}}
app.kubernetes.io/name: {{ include "turnover.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "turnover.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "turnover.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "turnover.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "turnover.secretName" -}}
{{- default (include "turnover.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Where the secrets and the TLS material are mounted in every container. */}}
{{- define "turnover.secretsDir" -}}/etc/turnover/secrets{{- end }}
{{- define "turnover.tlsDir" -}}/etc/turnover/tls{{- end }}

{{/*
The Secret keys of the broker URL, the database URL and the API keys ("" when there are none):
the chart's own key names, or existingSecretKeys.
*/}}
{{- define "turnover.secretKeys" -}}
{{- if .Values.existingSecret -}}
{{- toJson (dict "amqpUrl" .Values.existingSecretKeys.amqpUrl "postgresUrl" .Values.existingSecretKeys.postgresUrl "apiKeys" (.Values.existingSecretKeys.apiKeys | default "")) }}
{{- else -}}
{{- toJson (dict "amqpUrl" "TURNOVER_AMQP__URL" "postgresUrl" "TURNOVER_POSTGRES__URL" "apiKeys" (ternary "TURNOVER_AUTH__API_KEYS" "" (gt (len .Values.secrets.apiKeys) 0))) }}
{{- end -}}
{{- end }}

{{/* The Secret key KEDA's scaler reads its host from. */}}
{{- define "turnover.kedaHostKey" -}}
{{- if .Values.existingSecret -}}
{{- .Values.keda.hostSecretKey | default .Values.existingSecretKeys.amqpUrl }}
{{- else if .Values.secrets.kedaHost -}}
KEDA_HOST
{{- else -}}
TURNOVER_AMQP__URL
{{- end -}}
{{- end }}

{{/*
Environment of every turnover container: secrets and TLS material as files (the service reads
`<key>_FILE`), then extraEnv. Call with a dict: root, and migrate (only the database URL).
*/}}
{{- define "turnover.fileEnv" -}}
{{- $root := .root -}}
{{- $keys := include "turnover.secretKeys" $root | fromJson -}}
{{- $dir := include "turnover.secretsDir" $root -}}
- name: TURNOVER_POSTGRES__URL_FILE
  value: {{ printf "%s/postgres-url" $dir | quote }}
{{- if not .migrate }}
- name: TURNOVER_AMQP__URL_FILE
  value: {{ printf "%s/amqp-url" $dir | quote }}
{{- if $keys.apiKeys }}
- name: TURNOVER_AUTH__API_KEYS_FILE
  value: {{ printf "%s/api-keys" $dir | quote }}
{{- end }}
{{- /* A salt, not a credential: an environment variable from the Secret (config has no _file key). */}}
{{- $saltKey := ternary ($root.Values.existingSecretKeys.erasureSalt | default "") (ternary "TURNOVER_PRIVACY__ERASURE_SALT" "" (ne $root.Values.secrets.erasureSalt "")) (ne $root.Values.existingSecret "") }}
{{- if $saltKey }}
- name: TURNOVER_PRIVACY__ERASURE_SALT
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret | default (include "turnover.fullname" $root) }}
      key: {{ $saltKey }}
{{- end }}
{{- with $root.Values.tls.amqp }}
{{- if .secretName }}
- name: TURNOVER_AMQP__TLS_CA_FILE
  value: {{ printf "%s/amqp/%s" (include "turnover.tlsDir" $root) .caKey | quote }}
{{- if .certKey }}
- name: TURNOVER_AMQP__TLS_CERT_FILE
  value: {{ printf "%s/amqp/%s" (include "turnover.tlsDir" $root) .certKey | quote }}
- name: TURNOVER_AMQP__TLS_KEY_FILE
  value: {{ printf "%s/amqp/%s" (include "turnover.tlsDir" $root) .keyKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes of the secrets (as files) and of the TLS material. Call with a dict: root, secretName
(the Secret to mount), migrate (only the database URL).
*/}}
{{- define "turnover.fileVolumes" -}}
{{- $root := .root -}}
{{- $keys := include "turnover.secretKeys" $root | fromJson -}}
- name: secrets
  secret:
    secretName: {{ .secretName }}
    # 0440: read by the pod's group (fsGroup), nobody else.
    defaultMode: 288
    items:
      - key: {{ $keys.postgresUrl }}
        path: postgres-url
      {{- if not .migrate }}
      - key: {{ $keys.amqpUrl }}
        path: amqp-url
      {{- if $keys.apiKeys }}
      - key: {{ $keys.apiKeys }}
        path: api-keys
      {{- end }}
      {{- end }}
{{- if and (not .migrate) $root.Values.tls.amqp.secretName }}
- name: tls-amqp
  secret:
    secretName: {{ $root.Values.tls.amqp.secretName }}
    defaultMode: 288
{{- end }}
{{- if $root.Values.tls.postgres.secretName }}
- name: tls-postgres
  secret:
    secretName: {{ $root.Values.tls.postgres.secretName }}
    defaultMode: 288
{{- end }}
{{- end }}

{{- define "turnover.fileVolumeMounts" -}}
{{- $root := .root -}}
- name: secrets
  mountPath: {{ include "turnover.secretsDir" $root }}
  readOnly: true
{{- if and (not .migrate) $root.Values.tls.amqp.secretName }}
- name: tls-amqp
  mountPath: {{ include "turnover.tlsDir" $root }}/amqp
  readOnly: true
{{- end }}
{{- if $root.Values.tls.postgres.secretName }}
- name: tls-postgres
  mountPath: {{ include "turnover.tlsDir" $root }}/postgres
  readOnly: true
{{- end }}
{{- end }}

{{/* Scheduling of every pod, the migration Job's included. */}}
{{- define "turnover.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The component that holds the worker pool: the combined server, or the worker when split. */}}
{{- define "turnover.workerComponent" -}}
{{- if .Values.split.enabled }}worker{{ else }}server{{ end }}
{{- end }}

{{- define "turnover.workerDeploymentName" -}}
{{- if .Values.split.enabled }}
{{- printf "%s-worker" (include "turnover.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "turnover.fullname" . }}
{{- end }}
{{- end }}

{{/*
Pod spec shared by the Deployments. Call with a dict:
  root: the top context; component: server|http|worker; args: the container args;
  http: whether the pod listens on the HTTP port (probes, metrics); serves: whether it is behind
  the public Service (preStop pause); resources: resources.
*/}}
{{- define "turnover.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "turnover.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    {{- if .http }}
    turnover.io/scrape: "true"
    {{- end }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "turnover.serviceAccountName" $root }}
  # The service never calls the Kubernetes API: no token in the pods.
  automountServiceAccountToken: false
  # Service links would inject TURNOVER_SERVICE_HOST, TURNOVER_PORT... for a Service named
  # turnover: variables in the service's own TURNOVER_ namespace that it does not know.
  enableServiceLinks: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  containers:
    - name: turnover
      image: {{ include "turnover.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      envFrom:
        - configMapRef:
            name: {{ include "turnover.fullname" $root }}
      env:
        {{- include "turnover.fileEnv" (dict "root" $root) | nindent 8 }}
      {{- if and .serves (gt (int $root.Values.preStopSleepSeconds) 0) }}
      lifecycle:
        # Keep serving while the endpoint leaves the Service; SIGTERM (the drain) comes after.
        preStop:
          exec:
            command: ["sleep", {{ $root.Values.preStopSleepSeconds | int | toString | quote }}]
      {{- end }}
      {{- if .http }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      startupProbe:
        httpGet:
          path: /health
          port: http
        {{- toYaml $root.Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /health
          port: http
        {{- toYaml $root.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /ready
          port: http
        {{- toYaml $root.Values.probes.readiness | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- include "turnover.fileVolumeMounts" (dict "root" $root) | nindent 8 }}
        {{- with $root.Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- include "turnover.fileVolumes" (dict "root" $root "secretName" (include "turnover.secretName" $root)) | nindent 4 }}
    {{- with $root.Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- include "turnover.scheduling" $root | nindent 2 }}
  {{- with $root.Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
