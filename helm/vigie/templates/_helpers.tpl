{{- define "vigie.name" -}}{{ .Release.Name }}-vigie{{- end -}}
{{- define "vigie.labels" -}}
app.kubernetes.io/name: vigie
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "vigie.env" -}}
- name: VIGIE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
- name: VIGIE_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: VIGIE_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: VIGIE_TOPIC_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: VIGIE_TOPIC_REPLICATION
  value: {{ .Values.kafka.replication | quote }}
- name: VIGIE_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
{{- end -}}
{{- define "vigie.securityContext" -}}
runAsNonRoot: true
runAsUser: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}
