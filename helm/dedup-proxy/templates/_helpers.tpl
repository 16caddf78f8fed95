{{/*
Every helper below uses only .Values and .Release, so another chart can call
them with this chart's values:
  include "dedup-proxy.sidecar" (dict "Values" (index .Values "dedup-proxy") "Release" .Release)
*/}}

{{- define "dedup-proxy.name" -}}
{{- default "dedup-proxy" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dedup-proxy.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "dedup-proxy.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dedup-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dedup-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dedup-proxy.labels" -}}
{{ include "dedup-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default "0.1.0" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
{{- end -}}

{{- define "dedup-proxy.configMapName" -}}
{{- printf "%s-config" (include "dedup-proxy.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The proxy config file, as rendered into the ConfigMap. */}}
{{- define "dedup-proxy.configYaml" -}}
{{- if .Values.proxy.config -}}
{{- toYaml .Values.proxy.config -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/* Put on the pod template: a config change rolls the pods. */}}
{{- define "dedup-proxy.configChecksum" -}}
{{- include "dedup-proxy.configYaml" . | sha256sum -}}
{{- end -}}

{{- define "dedup-proxy.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default "0.1.0") -}}
{{- end -}}

{{/*
Refuses settings that would break the dedup guarantee or the drain.
Renders nothing; fails the release with a clear message.
*/}}
{{- define "dedup-proxy.validate" -}}
{{- $local := ne .Values.store.type "redis" -}}
{{- if and $local (not .Values.store.acceptLocalStoreWithReplicas) (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) -}}
{{- fail "dedup-proxy: replicaCount > 1 or autoscaling.enabled needs store.type=redis: with the local rocksdb store each pod remembers only its own deliveries, so a redelivery reaching another replica is NOT deduplicated. Set store.type=redis (and store.redis.url), or set store.acceptLocalStoreWithReplicas=true to accept this." -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled $local -}}
{{- fail "dedup-proxy: autoscaling.enabled (HPA) is only allowed with store.type=redis." -}}
{{- end -}}
{{- if and (eq .Values.store.type "redis") (not .Values.store.redis.url) -}}
{{- fail "dedup-proxy: store.type=redis needs store.redis.url (redis://HOST:PORT[/DB], redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB] or redis-cluster://HOST:PORT[,HOST:PORT...])." -}}
{{- end -}}
{{- if and (eq .Values.store.type "redis") .Values.persistence.enabled -}}
{{- fail "dedup-proxy: persistence.enabled is for the rocksdb store; with store.type=redis set persistence.enabled=false." -}}
{{- end -}}
{{- if and .Values.signature.secretKey (not .Values.signature.existingSecret) -}}
{{- fail "dedup-proxy: signature.secretKey needs signature.existingSecret (the Secret holding the signature secrets, one per line)." -}}
{{- end -}}
{{- if and .Values.signature.scheme (not .Values.signature.secretKey) -}}
{{- fail "dedup-proxy: signature.scheme needs signature.existingSecret and signature.secretKey (the file of secrets the scheme is checked with)." -}}
{{- end -}}
{{- if has (int .Values.app.port) (list 8080 9901) -}}
{{- fail "dedup-proxy: app.port must not be 8080 or 9901 (the proxy's ports in the same pod)." -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (add .Values.sidecar.drainTimeoutSeconds .Values.sidecar.preStopSleepSeconds | int) -}}
{{- fail (printf "dedup-proxy: terminationGracePeriodSeconds (%d) must exceed sidecar.preStopSleepSeconds + sidecar.drainTimeoutSeconds (%d), or in-flight deliveries are killed mid-drain." (int .Values.terminationGracePeriodSeconds) (add .Values.sidecar.drainTimeoutSeconds .Values.sidecar.preStopSleepSeconds | int)) -}}
{{- end -}}
{{- end -}}

{{/* The --store value, or the DEDUP_PROXY_STORE env when a password is used. */}}
{{- define "dedup-proxy.storeUri" -}}
{{- if eq .Values.store.type "redis" -}}
{{- if .Values.store.redis.existingSecret -}}
{{- $url := .Values.store.redis.url -}}
{{- if hasPrefix "redis-sentinel://" $url -}}
{{- $url | replace "redis-sentinel://" "redis-sentinel://:$(DEDUP_PROXY_REDIS_PASSWORD)@" -}}
{{- else if hasPrefix "redis-cluster://" $url -}}
{{- $url | replace "redis-cluster://" "redis-cluster://:$(DEDUP_PROXY_REDIS_PASSWORD)@" -}}
{{- else -}}
{{- $url | replace "redis://" "redis://:$(DEDUP_PROXY_REDIS_PASSWORD)@" -}}
{{- end -}}
{{- else -}}
{{- .Values.store.redis.url -}}
{{- end -}}
{{- else -}}
rocksdb:/var/lib/dedup-proxy/data
{{- end -}}
{{- end -}}

{{/*
The dedup-proxy container (one list item). Used by this chart's pod spec and
by any chart that depends on this one. With sidecar.native=true, put it under
initContainers: it carries restartPolicy: Always.
*/}}
{{- define "dedup-proxy.sidecar" -}}
{{- $redisSecret := and (eq .Values.store.type "redis") .Values.store.redis.existingSecret -}}
- name: dedup-proxy
  image: {{ include "dedup-proxy.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if .Values.sidecar.native }}
  restartPolicy: Always
  {{- end }}
  args:
    - --upstream
    - {{ printf "http://127.0.0.1:%d" (int .Values.app.port) | quote }}
    - --listen
    - "0.0.0.0:8080"
    - --admin
    - "0.0.0.0:9901"
    {{- if not $redisSecret }}
    - --store
    - {{ include "dedup-proxy.storeUri" . | quote }}
    {{- end }}
    - --drain-timeout
    - {{ printf "%ds" (int .Values.sidecar.drainTimeoutSeconds) | quote }}
    - --config
    - /etc/dedup-proxy/config.yaml
    {{- if and .Values.signature.existingSecret .Values.signature.secretKey }}
    - --signature-secret-file
    - {{ printf "/etc/dedup-proxy-secrets/%s" .Values.signature.secretKey | quote }}
    {{- end }}
    {{- with .Values.signature.scheme }}
    - --signature
    - {{ . | quote }}
    {{- end }}
    {{- with .Values.signature.tolerance }}
    - --signature-tolerance
    - {{ . | quote }}
    {{- end }}
    {{- range .Values.sidecar.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if or $redisSecret .Values.sidecar.extraEnv }}
  env:
    {{- if $redisSecret }}
    - name: DEDUP_PROXY_REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ .Values.store.redis.existingSecret }}
          key: {{ .Values.store.redis.existingSecretPasswordKey }}
    # Kubernetes expands $(DEDUP_PROXY_REDIS_PASSWORD): the password stays out of the args.
    - name: DEDUP_PROXY_STORE
      value: {{ include "dedup-proxy.storeUri" . | quote }}
    {{- end }}
    {{- with .Values.sidecar.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  ports:
    - name: dedup-http
      containerPort: 8080
      protocol: TCP
    - name: dedup-admin
      containerPort: 9901
      protocol: TCP
  readinessProbe:
    httpGet:
      path: /readyz
      port: 9901
    periodSeconds: 5
    failureThreshold: 2
  livenessProbe:
    httpGet:
      path: /healthz
      port: 9901
    initialDelaySeconds: 5
    periodSeconds: 10
    failureThreshold: 3
  lifecycle:
    preStop:
      exec:
        command: ["/bin/sleep", {{ int .Values.sidecar.preStopSleepSeconds | quote }}]
  {{- with .Values.sidecar.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    - name: dedup-proxy-data
      mountPath: /var/lib/dedup-proxy
    - name: dedup-proxy-config
      mountPath: /etc/dedup-proxy
      readOnly: true
    {{- if .Values.signature.existingSecret }}
    # Not a subPath: the kubelet then updates the files when the Secret changes.
    - name: dedup-proxy-signature-secrets
      mountPath: /etc/dedup-proxy-secrets
      readOnly: true
    {{- end }}
    - name: dedup-proxy-tmp
      mountPath: /tmp
{{- end -}}

{{/*
The pod volumes the sidecar mounts (list items). With persistence.enabled the
data volume comes from the StatefulSet's volumeClaimTemplates instead.
*/}}
{{- define "dedup-proxy.sidecarVolumes" -}}
{{- if not .Values.persistence.enabled -}}
- name: dedup-proxy-data
  emptyDir:
    {{- with .Values.store.rocksdb.emptyDirSizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}
- name: dedup-proxy-config
  configMap:
    name: {{ include "dedup-proxy.configMapName" . }}
{{- if .Values.signature.existingSecret }}
- name: dedup-proxy-signature-secrets
  secret:
    secretName: {{ .Values.signature.existingSecret }}
    defaultMode: 0440
{{- end }}
- name: dedup-proxy-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* The whole pod spec, shared by the Deployment and the StatefulSet. */}}
{{- define "dedup-proxy.podTemplate" -}}
metadata:
  labels:
    {{- include "dedup-proxy.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "dedup-proxy.configChecksum" . }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
  {{- with .Values.serviceAccountName }}
  serviceAccountName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.sidecar.native }}
  initContainers:
    {{- include "dedup-proxy.sidecar" . | nindent 4 }}
  {{- end }}
  containers:
    - name: app
      image: {{ printf "%s:%s" .Values.app.image.repository .Values.app.image.tag | quote }}
      imagePullPolicy: {{ .Values.app.image.pullPolicy }}
      {{- with .Values.app.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.app.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- if not .Values.sidecar.native }}
    {{- include "dedup-proxy.sidecar" . | nindent 4 }}
    {{- end }}
  volumes:
    {{- include "dedup-proxy.sidecarVolumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
