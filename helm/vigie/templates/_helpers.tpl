{{- define "vigie.fullname" -}}
{{- printf "%s-vigie" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigie.selectorLabels" -}}
app.kubernetes.io/name: vigie
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigie.labels" -}}
{{ include "vigie.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{- define "vigie.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "vigie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "vigie.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/* Configuration shared by every Vigie container. */}}
{{- define "vigie.env" -}}
{{- if .migration }}
- name: VIGIE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.migration.existingSecret is required" .Values.database.migration.existingSecret }}
      key: {{ .Values.database.migration.key }}
- name: VIGIE_HUB_DATABASE_ROLE
  value: {{ required "database.hubRole is required" .Values.database.hubRole | quote }}
{{- else }}
- name: VIGIE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
{{- end }}
- name: VIGIE_STATE_DIR
  value: /tmp/vigie
- name: VIGIE_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
{{- if .Values.tracing.otlpEndpoint }}
- name: VIGIE_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
- name: VIGIE_OTEL_SERVICE_NAME
  value: {{ .Values.tracing.serviceName | quote }}
{{- end }}
- name: VIGIE_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: VIGIE_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
- name: VIGIE_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: VIGIE_TOPIC_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: VIGIE_TOPIC_REPLICATION
  value: {{ .Values.kafka.replication | quote }}
- name: VIGIE_TOPIC_RETENTION_MS
  value: {{ .Values.kafka.topicRetentionMs | int64 | quote }}
- name: VIGIE_KAFKA_EXTERNAL_BOOTSTRAP
  value: {{ .Values.kafka.external.bootstrapServers | quote }}
- name: VIGIE_KAFKA_EXTERNAL_PROTOCOL
  value: {{ .Values.kafka.external.securityProtocol | quote }}
- name: VIGIE_KAFKA_AUDIENCE
  value: {{ .Values.kafka.external.audience | quote }}
# The cluster fetches the hub's JWKS over HTTPS; no file to write.
- name: VIGIE_KAFKA_JWKS_FILE
  value: ""
{{- if .Values.kafka.tls.existingSecret }}
- name: VIGIE_KAFKA_SSL_CAFILE
  value: /etc/vigie/kafka-tls/{{ .Values.kafka.tls.caKey }}
{{- if .Values.kafka.tls.clientCertificate }}
- name: VIGIE_KAFKA_SSL_CERTFILE
  value: /etc/vigie/kafka-tls/{{ .Values.kafka.tls.certKey }}
- name: VIGIE_KAFKA_SSL_KEYFILE
  value: /etc/vigie/kafka-tls/{{ .Values.kafka.tls.keyKey }}
{{- end }}
{{- end }}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}
- name: VIGIE_KAFKA_OAUTH_TOKEN_URL
  value: {{ required "kafka.oauth.tokenUrl is required with SASL" .Values.kafka.oauth.tokenUrl | quote }}
- name: VIGIE_KAFKA_OAUTH_CLIENT_ID
  value: {{ .Values.kafka.oauth.clientId | quote }}
- name: VIGIE_KAFKA_OAUTH_SCOPE
  value: {{ .Values.kafka.oauth.scope | quote }}
- name: VIGIE_KAFKA_OAUTH_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.oauth.existingSecret is required with SASL" .Values.kafka.oauth.existingSecret }}
      key: {{ .Values.kafka.oauth.secretKey }}
{{- end }}
{{- if .Values.signingKeys.existingSecret }}
- name: VIGIE_SIGNING_KEYS_FILE
  value: /etc/vigie/signing-keys/{{ .Values.signingKeys.key }}
{{- end }}
{{- if .Values.logKeys.existingSecret }}
- name: VIGIE_LOG_KEYS_FILE
  value: /etc/vigie/log-keys/{{ .Values.logKeys.key }}
{{- end }}
- name: VIGIE_DATA_KEYS_FILE
  value: /etc/vigie/data-keys/{{ .Values.dataKeys.key }}
{{- with .Values.documents }}
- name: VIGIE_DOCUMENT_STORE
  value: {{ .store | quote }}
- name: VIGIE_DOCUMENT_MAX_BYTES
  value: {{ .maxBytes | int | quote }}
- name: VIGIE_DOCUMENT_TYPES
  value: {{ .types | quote }}
- name: VIGIE_DOCUMENT_EXPIRY
  value: {{ .expiry | quote }}
{{- if eq .store "s3" }}
- name: VIGIE_DOCUMENT_S3_ENDPOINT
  value: {{ .s3.endpoint | quote }}
- name: VIGIE_DOCUMENT_S3_REGION
  value: {{ .s3.region | quote }}
- name: VIGIE_DOCUMENT_S3_BUCKET
  value: {{ required "documents.s3.bucket is required" .s3.bucket | quote }}
- name: VIGIE_DOCUMENT_S3_PREFIX
  value: {{ .s3.prefix | quote }}
- name: VIGIE_DOCUMENT_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "documents.s3.existingSecret is required with the S3 store" .s3.existingSecret }}
      key: {{ .s3.accessKeyKey }}
- name: VIGIE_DOCUMENT_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .s3.existingSecret }}
      key: {{ .s3.secretKeyKey }}
{{- end }}
{{- end }}
- name: VIGIE_SEAL_KEY_FILE
  value: /etc/vigie/seal/{{ .Values.seal.keyKey }}
- name: VIGIE_SEAL_CERT_FILE
  value: /etc/vigie/seal/{{ .Values.seal.certKey }}
{{- if .Values.seal.chainKey }}
- name: VIGIE_SEAL_CHAIN_FILE
  value: /etc/vigie/seal/{{ .Values.seal.chainKey }}
{{- end }}
{{- with .Values.console }}
- name: VIGIE_CONSOLE
  value: {{ ternary "1" "0" .enabled | quote }}
{{- if .enabled }}
- name: VIGIE_CONSOLE_OIDC_ISSUER
  value: {{ required "console.oidc.issuer is required with the console" .oidc.issuer | quote }}
- name: VIGIE_CONSOLE_OIDC_CLIENT_ID
  value: {{ .oidc.clientId | quote }}
- name: VIGIE_CONSOLE_OIDC_CLIENT_SECRET_FILE
  value: /etc/vigie/console/{{ .clientSecretKey }}
- name: VIGIE_CONSOLE_SESSION_KEY_FILE
  value: /etc/vigie/console/{{ .sessionKeyKey }}
- name: VIGIE_CONSOLE_IDLE_SECONDS
  value: {{ .idleSeconds | int | quote }}
- name: VIGIE_CONSOLE_SECURE_COOKIES
  value: "1"
{{- if .ingress.enabled }}
- name: VIGIE_CONSOLE_URL
  value: {{ printf "https://%s" .ingress.host | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.smtp }}
{{- if .host }}
- name: VIGIE_SMTP_HOST
  value: {{ .host | quote }}
- name: VIGIE_SMTP_PORT
  value: {{ .port | int | quote }}
- name: VIGIE_SMTP_STARTTLS
  value: {{ ternary "1" "0" .starttls | quote }}
- name: VIGIE_SMTP_USER
  value: {{ .user | quote }}
- name: VIGIE_MAIL_FROM
  value: {{ .from | quote }}
{{- if .existingSecret }}
- name: VIGIE_SMTP_PASSWORD_FILE
  value: /etc/vigie/smtp/{{ .passwordKey }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.externalIdentityProvider }}
{{- if or .issuer .jwksUrl }}
- name: VIGIE_EXTERNAL_ISSUER
  value: {{ required "externalIdentityProvider.issuer is required" .issuer | quote }}
- name: VIGIE_EXTERNAL_JWKS_URL
  value: {{ required "externalIdentityProvider.jwksUrl is required" .jwksUrl | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "vigie.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
{{- if .Values.kafka.tls.existingSecret }}
- {name: kafka-tls, mountPath: /etc/vigie/kafka-tls, readOnly: true}
{{- end }}
{{- if .Values.signingKeys.existingSecret }}
- {name: signing-keys, mountPath: /etc/vigie/signing-keys, readOnly: true}
{{- end }}
{{- if .Values.logKeys.existingSecret }}
- {name: log-keys, mountPath: /etc/vigie/log-keys, readOnly: true}
{{- end }}
- {name: data-keys, mountPath: /etc/vigie/data-keys, readOnly: true}
- {name: seal, mountPath: /etc/vigie/seal, readOnly: true}
{{- if .Values.console.enabled }}
- {name: console, mountPath: /etc/vigie/console, readOnly: true}
{{- end }}
{{- if .Values.smtp.existingSecret }}
- {name: smtp, mountPath: /etc/vigie/smtp, readOnly: true}
{{- end }}
{{- end -}}

{{- define "vigie.volumes" -}}
- name: tmp
  emptyDir: {sizeLimit: {{ .Values.documents.tmpSizeLimit }}}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  secret: {secretName: {{ .Values.kafka.tls.existingSecret }}, defaultMode: 0440}
{{- end }}
{{- if .Values.signingKeys.existingSecret }}
- name: signing-keys
  secret: {secretName: {{ .Values.signingKeys.existingSecret }}, defaultMode: 0440}
{{- end }}
{{- if .Values.logKeys.existingSecret }}
- name: log-keys
  secret: {secretName: {{ .Values.logKeys.existingSecret }}, defaultMode: 0440}
{{- end }}
- name: data-keys
  secret:
    secretName: {{ required "dataKeys.existingSecret is required (vigie data-keys generate)" .Values.dataKeys.existingSecret }}
    defaultMode: 0440
- name: seal
  secret:
    secretName: {{ required "seal.existingSecret is required (the hub's seal key and certificate)" .Values.seal.existingSecret }}
    defaultMode: 0440
{{- if .Values.console.enabled }}
- name: console
  secret:
    secretName: {{ required "console.existingSecret is required (OIDC client secret, session key)" .Values.console.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if .Values.smtp.existingSecret }}
- name: smtp
  secret: {secretName: {{ .Values.smtp.existingSecret }}, defaultMode: 0440}
{{- end }}
{{- end -}}

{{- define "vigie.podSpecCommon" -}}
serviceAccountName: {{ include "vigie.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
