"""Typed views of the API objects the components read — the core kinds (Pod, Node, Service,
EndpointSlice, volumes, ...) and the apps, batch, policy, storage, certificates, coordination and
RBAC kinds the controllers reconcile — as ``TypedDict``\\ s over the JSON dicts the informers hold
(issue #16).

Chosen by measurement (``tests/perf/typed_access_bench.py``): a TypedDict costs nothing at run
time, the object stays the dict the apiserver sent and every read stays a dict read, where a
view class per object cost 1.5x per read and validating into the pydantic models of
:mod:`minik8s.api.core` 17x (~50 us per pod event). What changes is what the type checker sees:
field names (camelCase, as on the wire) and their types, so a misspelt key or a wrong type is an
error in ``make test``.

Every key is optional (``total=False``): an object read from the cluster carries what the
apiserver defaulted, but a reader still says what it does when a field is absent. Nested parts a
reader does not yet need are ``dict[str, Any]``; they get their own TypedDicts as readers come.

:func:`pod`, :func:`node`, :func:`service`, :func:`endpoint_slice` (and the other kinds' functions,
:func:`deployment`, :func:`replica_set`, :func:`job`, ...) type an informer's object at
the boundary, without copying or checking it (the apiserver validated it); the informers' stores
hold ``dict[str, Any]``. ``tests/unit/test_typed_views.py`` checks that every view names only
JSON fields of the apiserver's model of its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

__all__ = [
    "Container", "Node", "NodeAddress", "NodeCondition", "NodeSpec", "NodeStatus", "ObjectMeta",
    "OwnerReference", "Pod", "PodCondition", "PodSpec", "PodStatus", "Taint", "Toleration", "node", "pod",
    # the parts of a Pod the kubelet reads
    "Capabilities", "ConfigMapVolumeSource", "ContainerPort", "ContainerState", "ContainerStateRunning",
    "ContainerStateTerminated", "ContainerStateWaiting", "ContainerStatus", "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource", "EnvFromSource", "EphemeralContainer", "EnvSourceRef", "EnvVar", "EnvVarSource", "ExecAction", "HTTPGetAction",
    "HTTPHeader", "HostAlias", "HostPathVolumeSource", "KeySelector", "KeyToPath", "ObjectFieldSelector",
    "PersistentVolumeClaimVolumeSource", "PodDNSConfig", "PodDNSConfigOption", "PodReadinessGate", "PodSecurityContext",
    "Probe", "ProjectedVolumeSource", "ResourceFieldSelector", "ResourceRequirements", "SecretProjection",
    "SecretVolumeSource", "SecurityContext", "ServiceAccountTokenProjection", "TCPSocketAction", "Volume",
    "VolumeMount", "VolumeProjection",
    # Service, EndpointSlice
    "ClientIPConfig", "Endpoint", "EndpointConditions", "EndpointPort", "EndpointSlice", "LoadBalancerIngress",
    "LoadBalancerStatus", "Service", "ServicePort", "ServiceSpec", "ServiceStatus", "SessionAffinityConfig",
    "endpoint_slice", "service",
    # PersistentVolume, PersistentVolumeClaim
    "LocalVolumeSource", "ObjectReference", "PersistentVolume", "PersistentVolumeClaim", "PersistentVolumeClaimSpec",
    "PersistentVolumeClaimStatus", "PersistentVolumeSpec", "PersistentVolumeStatus", "persistent_volume",
    "persistent_volume_claim",
    # the parts of a Pod the scheduler reads
    "Affinity", "LabelSelector", "LabelSelectorRequirement", "NodeAffinity", "NodeSelector", "NodeSelectorRequirement",
    "NodeSelectorTerm", "PodAffinity", "PodAffinityTerm", "PodAntiAffinity", "PreferredSchedulingTerm",
    "WeightedPodAffinityTerm",
    # StorageClass
    "StorageClass", "storage_class",
    # Deployment, ReplicaSet
    "Deployment", "DeploymentCondition", "DeploymentSpec", "DeploymentStatus", "DeploymentStrategy", "PodTemplateSpec",
    "ReplicaSet", "ReplicaSetCondition", "ReplicaSetSpec", "ReplicaSetStatus", "RollingUpdateDeployment",
    "deployment", "replica_set",
    # Job, CronJob
    "CronJob", "CronJobSpec", "CronJobStatus", "Job", "JobCondition", "JobSpec", "JobStatus", "JobTemplateSpec",
    "PodFailurePolicy", "PodFailurePolicyOnExitCodesRequirement", "PodFailurePolicyOnPodConditionsPattern",
    "PodFailurePolicyRule",
    "UncountedTerminatedPods", "cron_job", "job",
    # ResourceQuota
    "ResourceQuota", "ResourceQuotaSpec", "ResourceQuotaStatus", "ScopeSelector", "ScopedResourceSelectorRequirement",
    "resource_quota",
    # Namespace, ConfigMap, Secret, ServiceAccount, CertificateSigningRequest
    "Namespace", "NamespaceCondition", "NamespaceSpec", "NamespaceStatus", "namespace",
    "ConfigMap", "Secret", "ServiceAccount", "config_map", "secret", "service_account",
    "CertificateSigningRequest", "CertificateSigningRequestCondition", "CertificateSigningRequestSpec",
    "CertificateSigningRequestStatus", "certificate_signing_request",
    # Lease, ClusterRole
    "Lease", "LeaseSpec", "lease", "AggregationRule", "ClusterRole", "PolicyRule", "cluster_role",
    # Endpoints
    "EndpointAddress", "EndpointSubset", "Endpoints", "endpoints",
    # DaemonSet, ControllerRevision, StatefulSet, PodDisruptionBudget
    "ControllerRevision", "DaemonSet", "DaemonSetCondition", "DaemonSetSpec", "DaemonSetStatus",
    "DaemonSetUpdateStrategy", "PodDisruptionBudget", "PodDisruptionBudgetSpec", "PodDisruptionBudgetStatus",
    "RollingUpdateDaemonSet", "RollingUpdateStatefulSetStrategy", "StatefulSet", "StatefulSetCondition",
    "StatefulSetOrdinals", "StatefulSetPersistentVolumeClaimRetentionPolicy", "StatefulSetSpec", "StatefulSetStatus",
    "StatefulSetUpdateStrategy", "controller_revision", "daemon_set", "pod_disruption_budget", "stateful_set",
]


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]
    managedFields: list[dict[str, Any]]


# -- Pod ------------------------------------------------------------------------------------

class Toleration(TypedDict, total=False):
    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class Container(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]
    workingDir: str
    env: list[EnvVar]
    ports: list[ContainerPort]
    resources: ResourceRequirements
    volumeMounts: list[VolumeMount]
    restartPolicy: str
    imagePullPolicy: str
    securityContext: SecurityContext
    readinessProbe: Probe
    livenessProbe: Probe
    startupProbe: Probe
    envFrom: list[EnvFromSource]
    tty: bool
    stdin: bool
    stdinOnce: bool
    terminationMessagePath: str
    terminationMessagePolicy: str


class PodSpec(TypedDict, total=False):
    nodeName: str
    nodeSelector: dict[str, str]
    schedulerName: str
    priority: int
    priorityClassName: str
    serviceAccountName: str
    restartPolicy: str
    terminationGracePeriodSeconds: int
    hostNetwork: bool
    containers: list[Container]
    initContainers: list[Container]
    ephemeralContainers: list[EphemeralContainer]
    tolerations: list[Toleration]
    affinity: Affinity
    volumes: list[Volume]
    securityContext: PodSecurityContext
    serviceAccount: str
    hostname: str
    subdomain: str
    hostAliases: list[HostAlias]
    dnsPolicy: str
    dnsConfig: PodDNSConfig
    shareProcessNamespace: bool
    enableServiceLinks: bool
    readinessGates: list[PodReadinessGate]
    activeDeadlineSeconds: int
    preemptionPolicy: str
    overhead: dict[str, str]
    runtimeClassName: str


class PodCondition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastProbeTime: str
    lastTransitionTime: str


class PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    message: str
    conditions: list[PodCondition]
    hostIP: str
    podIP: str
    podIPs: list[dict[str, str]]
    startTime: str
    nominatedNodeName: str
    qosClass: str
    containerStatuses: list[ContainerStatus]
    initContainerStatuses: list[ContainerStatus]
    ephemeralContainerStatuses: list[ContainerStatus]
    hostIPs: list[dict[str, str]]


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


# -- Node -----------------------------------------------------------------------------------

class Taint(TypedDict, total=False):
    key: str
    value: str
    effect: str
    timeAdded: str


class NodeSpec(TypedDict, total=False):
    podCIDR: str
    podCIDRs: list[str]
    providerID: str
    unschedulable: bool
    taints: list[Taint]


class NodeCondition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastHeartbeatTime: str
    lastTransitionTime: str


class NodeAddress(TypedDict, total=False):
    type: str
    address: str


class NodeStatus(TypedDict, total=False):
    conditions: list[NodeCondition]
    addresses: list[NodeAddress]
    capacity: dict[str, str]
    allocatable: dict[str, str]
    nodeInfo: dict[str, str]
    daemonEndpoints: dict[str, Any]


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus


def pod(obj: Mapping[str, Any]) -> Pod:
    """``obj`` (a Pod as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Pod, obj)


def node(obj: Mapping[str, Any]) -> Node:
    """``obj`` (a Node as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Node, obj)


# -- Pod: the parts of its spec and status the kubelet reads --------------------------------

class EphemeralContainer(Container, total=False):
    """A container ``kubectl debug`` adds to a running pod."""

    targetContainerName: str  # whose process namespace it joins


class ObjectFieldSelector(TypedDict, total=False):
    apiVersion: str
    fieldPath: str


class ResourceFieldSelector(TypedDict, total=False):
    containerName: str
    resource: str
    divisor: str


class KeySelector(TypedDict, total=False):
    """A ConfigMapKeySelector or SecretKeySelector (the same fields)."""

    name: str
    key: str
    optional: bool


class EnvVarSource(TypedDict, total=False):
    fieldRef: ObjectFieldSelector
    resourceFieldRef: ResourceFieldSelector
    configMapKeyRef: KeySelector
    secretKeyRef: KeySelector


class EnvVar(TypedDict, total=False):
    name: str
    value: str
    valueFrom: EnvVarSource | None


class EnvSourceRef(TypedDict, total=False):
    """A ConfigMapEnvSource or SecretEnvSource (the same fields)."""

    name: str
    optional: bool


class EnvFromSource(TypedDict, total=False):
    prefix: str
    configMapRef: EnvSourceRef
    secretRef: EnvSourceRef


class ContainerPort(TypedDict, total=False):
    name: str
    containerPort: int
    hostPort: int
    hostIP: str
    protocol: str


class ResourceRequirements(TypedDict, total=False):
    limits: dict[str, str]
    requests: dict[str, str]


class VolumeMount(TypedDict, total=False):
    name: str
    mountPath: str
    subPath: str
    readOnly: bool


class Capabilities(TypedDict, total=False):
    add: list[str]
    drop: list[str]


class SecurityContext(TypedDict, total=False):
    runAsUser: int
    runAsGroup: int
    runAsNonRoot: bool
    privileged: bool
    readOnlyRootFilesystem: bool
    allowPrivilegeEscalation: bool
    capabilities: Capabilities


class PodSecurityContext(TypedDict, total=False):
    runAsUser: int
    runAsGroup: int
    runAsNonRoot: bool
    fsGroup: int
    supplementalGroups: list[int]


class ExecAction(TypedDict, total=False):
    command: list[str]


class HTTPHeader(TypedDict, total=False):
    name: str
    value: str


class HTTPGetAction(TypedDict, total=False):
    path: str
    port: int | str  # a number or a named port of the container
    host: str
    scheme: str
    httpHeaders: list[HTTPHeader]


class TCPSocketAction(TypedDict, total=False):
    port: int | str
    host: str


class Probe(TypedDict, total=False):
    exec: ExecAction
    httpGet: HTTPGetAction
    tcpSocket: TCPSocketAction
    grpc: dict[str, Any]
    initialDelaySeconds: int
    periodSeconds: int
    timeoutSeconds: int
    successThreshold: int
    failureThreshold: int
    terminationGracePeriodSeconds: int


class KeyToPath(TypedDict, total=False):
    key: str
    path: str
    mode: int


class HostPathVolumeSource(TypedDict, total=False):
    path: str
    type: str


class ConfigMapVolumeSource(TypedDict, total=False):
    """A volume's configMap, and a projection's (which has no defaultMode)."""

    name: str
    items: list[KeyToPath]
    defaultMode: int
    optional: bool


class SecretVolumeSource(TypedDict, total=False):
    secretName: str
    items: list[KeyToPath]
    defaultMode: int
    optional: bool


class SecretProjection(TypedDict, total=False):
    name: str
    items: list[KeyToPath]
    optional: bool


class DownwardAPIVolumeFile(TypedDict, total=False):
    path: str
    fieldRef: ObjectFieldSelector
    resourceFieldRef: ResourceFieldSelector
    mode: int


class DownwardAPIVolumeSource(TypedDict, total=False):
    """A volume's downwardAPI, and a projection's (which has no defaultMode)."""

    items: list[DownwardAPIVolumeFile]
    defaultMode: int


class ServiceAccountTokenProjection(TypedDict, total=False):
    audience: str
    expirationSeconds: int
    path: str


class VolumeProjection(TypedDict, total=False):
    configMap: ConfigMapVolumeSource
    secret: SecretProjection
    downwardAPI: DownwardAPIVolumeSource
    serviceAccountToken: ServiceAccountTokenProjection
    clusterTrustBundle: dict[str, Any]


class ProjectedVolumeSource(TypedDict, total=False):
    sources: list[VolumeProjection]
    defaultMode: int


class PersistentVolumeClaimVolumeSource(TypedDict, total=False):
    claimName: str
    readOnly: bool


class Volume(TypedDict, total=False):
    name: str
    emptyDir: dict[str, Any]
    hostPath: HostPathVolumeSource
    configMap: ConfigMapVolumeSource
    secret: SecretVolumeSource
    projected: ProjectedVolumeSource
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource
    downwardAPI: DownwardAPIVolumeSource


class HostAlias(TypedDict, total=False):
    ip: str
    hostnames: list[str]


class PodDNSConfigOption(TypedDict, total=False):
    name: str
    value: str


class PodDNSConfig(TypedDict, total=False):
    nameservers: list[str]
    searches: list[str]
    options: list[PodDNSConfigOption]


class PodReadinessGate(TypedDict, total=False):
    conditionType: str


class ContainerStateRunning(TypedDict, total=False):
    startedAt: str


class ContainerStateWaiting(TypedDict, total=False):
    reason: str
    message: str


class ContainerStateTerminated(TypedDict, total=False):
    exitCode: int
    signal: int
    reason: str
    message: str
    startedAt: str
    finishedAt: str
    containerID: str


class ContainerState(TypedDict, total=False):
    """At most one of the three is set."""

    running: ContainerStateRunning
    waiting: ContainerStateWaiting
    terminated: ContainerStateTerminated


class ContainerStatus(TypedDict, total=False):
    name: str
    image: str
    imageID: str
    containerID: str
    ready: bool
    started: bool
    restartCount: int
    state: ContainerState
    lastState: ContainerState


# -- Service ----------------------------------------------------------------------------------

class ServicePort(TypedDict, total=False):
    name: str
    protocol: str
    appProtocol: str
    port: int
    targetPort: int | str  # a number or a named port of the pods
    nodePort: int


class ClientIPConfig(TypedDict, total=False):
    timeoutSeconds: int


class SessionAffinityConfig(TypedDict, total=False):
    clientIP: ClientIPConfig


class ServiceSpec(TypedDict, total=False):
    type: str
    selector: dict[str, str]
    ports: list[ServicePort]
    clusterIP: str
    clusterIPs: list[str]
    externalIPs: list[str]
    externalName: str
    sessionAffinity: str
    sessionAffinityConfig: SessionAffinityConfig
    externalTrafficPolicy: str
    internalTrafficPolicy: str
    publishNotReadyAddresses: bool
    loadBalancerIP: str
    loadBalancerClass: str
    ipFamilies: list[str]
    ipFamilyPolicy: str
    healthCheckNodePort: int
    loadBalancerSourceRanges: list[str]


class LoadBalancerIngress(TypedDict, total=False):
    ip: str
    hostname: str
    ipMode: str


class LoadBalancerStatus(TypedDict, total=False):
    ingress: list[LoadBalancerIngress]


class ServiceStatus(TypedDict, total=False):
    loadBalancer: LoadBalancerStatus
    conditions: list[dict[str, Any]]


class Service(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ServiceSpec
    status: ServiceStatus


def service(obj: Mapping[str, Any]) -> Service:
    """``obj`` (a Service as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Service, obj)


# -- EndpointSlice ----------------------------------------------------------------------------

class EndpointConditions(TypedDict, total=False):
    ready: bool | None  # None (absent) means ready
    serving: bool | None
    terminating: bool | None


class Endpoint(TypedDict, total=False):
    addresses: list[str]
    conditions: EndpointConditions
    hostname: str
    nodeName: str
    zone: str
    targetRef: dict[str, Any]


class EndpointPort(TypedDict, total=False):
    name: str
    protocol: str
    appProtocol: str
    port: int


class EndpointSlice(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    addressType: str
    endpoints: list[Endpoint]
    ports: list[EndpointPort]


def endpoint_slice(obj: Mapping[str, Any]) -> EndpointSlice:
    """``obj`` (an EndpointSlice as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(EndpointSlice, obj)


# -- PersistentVolume, PersistentVolumeClaim -------------------------------------------------

class ObjectReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    namespace: str
    name: str
    uid: str
    resourceVersion: str
    fieldPath: str


class LocalVolumeSource(TypedDict, total=False):
    path: str
    fsType: str


class PersistentVolumeSpec(TypedDict, total=False):
    capacity: dict[str, str]
    accessModes: list[str]
    claimRef: ObjectReference
    persistentVolumeReclaimPolicy: str
    storageClassName: str
    mountOptions: list[str]
    volumeMode: str
    nodeAffinity: dict[str, Any]
    hostPath: HostPathVolumeSource
    local: LocalVolumeSource


class PersistentVolumeStatus(TypedDict, total=False):
    phase: str
    message: str
    reason: str
    lastPhaseTransitionTime: str


class PersistentVolume(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PersistentVolumeSpec
    status: PersistentVolumeStatus


def persistent_volume(obj: Mapping[str, Any]) -> PersistentVolume:
    """``obj`` (a PersistentVolume as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(PersistentVolume, obj)


class PersistentVolumeClaimSpec(TypedDict, total=False):
    accessModes: list[str]
    selector: dict[str, Any]
    resources: ResourceRequirements
    volumeName: str
    storageClassName: str
    volumeMode: str
    dataSource: dict[str, Any]
    dataSourceRef: dict[str, Any]


class PersistentVolumeClaimStatus(TypedDict, total=False):
    phase: str
    accessModes: list[str]
    capacity: dict[str, str]
    conditions: list[dict[str, Any]]


class PersistentVolumeClaim(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PersistentVolumeClaimSpec
    status: PersistentVolumeClaimStatus


def persistent_volume_claim(obj: Mapping[str, Any]) -> PersistentVolumeClaim:
    """``obj`` (a PersistentVolumeClaim as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(PersistentVolumeClaim, obj)


# -- Pod: the parts of its spec the scheduler reads (affinity) ------------------------------

class NodeSelectorRequirement(TypedDict, total=False):
    key: str
    operator: str
    values: list[str]


class NodeSelectorTerm(TypedDict, total=False):
    matchExpressions: list[NodeSelectorRequirement]
    matchFields: list[NodeSelectorRequirement]


class NodeSelector(TypedDict, total=False):
    nodeSelectorTerms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(TypedDict, total=False):
    weight: int
    preference: NodeSelectorTerm


class NodeAffinity(TypedDict, total=False):
    requiredDuringSchedulingIgnoredDuringExecution: NodeSelector
    preferredDuringSchedulingIgnoredDuringExecution: list[PreferredSchedulingTerm]


class LabelSelectorRequirement(TypedDict, total=False):
    key: str
    operator: str
    values: list[str]


class LabelSelector(TypedDict, total=False):
    matchLabels: dict[str, str]
    matchExpressions: list[LabelSelectorRequirement]


class PodAffinityTerm(TypedDict, total=False):
    labelSelector: LabelSelector
    namespaces: list[str]
    topologyKey: str
    namespaceSelector: LabelSelector
    matchLabelKeys: list[str]
    mismatchLabelKeys: list[str]


class WeightedPodAffinityTerm(TypedDict, total=False):
    weight: int
    podAffinityTerm: PodAffinityTerm


class PodAffinity(TypedDict, total=False):
    requiredDuringSchedulingIgnoredDuringExecution: list[PodAffinityTerm]
    preferredDuringSchedulingIgnoredDuringExecution: list[WeightedPodAffinityTerm]


class PodAntiAffinity(TypedDict, total=False):
    requiredDuringSchedulingIgnoredDuringExecution: list[PodAffinityTerm]
    preferredDuringSchedulingIgnoredDuringExecution: list[WeightedPodAffinityTerm]


class Affinity(TypedDict, total=False):
    nodeAffinity: NodeAffinity
    podAffinity: PodAffinity
    podAntiAffinity: PodAntiAffinity


# -- Deployment, ReplicaSet (apps/v1) ---------------------------------------------------------

class PodTemplateSpec(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec


class RollingUpdateDeployment(TypedDict, total=False):
    maxUnavailable: int | str
    maxSurge: int | str


class DeploymentStrategy(TypedDict, total=False):
    type: str
    rollingUpdate: RollingUpdateDeployment


class DeploymentSpec(TypedDict, total=False):
    replicas: int
    selector: LabelSelector
    template: PodTemplateSpec
    strategy: DeploymentStrategy
    minReadySeconds: int
    revisionHistoryLimit: int
    paused: bool
    progressDeadlineSeconds: int


class DeploymentCondition(TypedDict, total=False):
    type: str
    status: str
    lastUpdateTime: str
    lastTransitionTime: str
    reason: str
    message: str


class DeploymentStatus(TypedDict, total=False):
    observedGeneration: int
    replicas: int
    updatedReplicas: int
    readyReplicas: int
    availableReplicas: int
    unavailableReplicas: int
    terminatingReplicas: int
    conditions: list[DeploymentCondition]
    collisionCount: int


class Deployment(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: DeploymentSpec
    status: DeploymentStatus


class ReplicaSetSpec(TypedDict, total=False):
    replicas: int
    minReadySeconds: int
    selector: LabelSelector
    template: PodTemplateSpec


class ReplicaSetCondition(TypedDict, total=False):
    type: str
    status: str
    lastTransitionTime: str
    reason: str
    message: str


class ReplicaSetStatus(TypedDict, total=False):
    replicas: int
    fullyLabeledReplicas: int
    readyReplicas: int
    availableReplicas: int
    terminatingReplicas: int
    observedGeneration: int
    conditions: list[ReplicaSetCondition]


class ReplicaSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ReplicaSetSpec
    status: ReplicaSetStatus


def deployment(obj: Mapping[str, Any]) -> Deployment:
    """``obj`` (a Deployment as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Deployment, obj)


def replica_set(obj: Mapping[str, Any]) -> ReplicaSet:
    """``obj`` (a ReplicaSet as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(ReplicaSet, obj)


# -- Job, CronJob (batch/v1) -------------------------------------------------------------------

class PodFailurePolicyOnExitCodesRequirement(TypedDict, total=False):
    containerName: str
    operator: str
    values: list[int]


class PodFailurePolicyOnPodConditionsPattern(TypedDict, total=False):
    type: str
    status: str


class PodFailurePolicyRule(TypedDict, total=False):
    action: str
    onExitCodes: PodFailurePolicyOnExitCodesRequirement
    onPodConditions: list[PodFailurePolicyOnPodConditionsPattern]


class PodFailurePolicy(TypedDict, total=False):
    rules: list[PodFailurePolicyRule]


class JobSpec(TypedDict, total=False):
    parallelism: int
    completions: int
    activeDeadlineSeconds: int
    podFailurePolicy: PodFailurePolicy
    successPolicy: dict[str, Any]
    backoffLimit: int
    backoffLimitPerIndex: int
    maxFailedIndexes: int
    selector: LabelSelector
    manualSelector: bool
    template: PodTemplateSpec
    ttlSecondsAfterFinished: int
    completionMode: str
    suspend: bool
    podReplacementPolicy: str
    managedBy: str


class JobCondition(TypedDict, total=False):
    type: str
    status: str
    lastProbeTime: str
    lastTransitionTime: str
    reason: str
    message: str


class UncountedTerminatedPods(TypedDict, total=False):
    succeeded: list[str]
    failed: list[str]


class JobStatus(TypedDict, total=False):
    conditions: list[JobCondition]
    startTime: str
    completionTime: str
    active: int
    succeeded: int
    failed: int
    terminating: int
    completedIndexes: str
    failedIndexes: str
    uncountedTerminatedPods: UncountedTerminatedPods
    ready: int


class Job(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: JobSpec
    status: JobStatus


def job(obj: Mapping[str, Any]) -> Job:
    return cast(Job, obj)  # the apiserver's Job, untouched: a view, not a copy


class JobTemplateSpec(TypedDict, total=False):
    metadata: ObjectMeta
    spec: JobSpec


class CronJobSpec(TypedDict, total=False):
    schedule: str
    timeZone: str
    startingDeadlineSeconds: int
    concurrencyPolicy: str
    suspend: bool
    jobTemplate: JobTemplateSpec
    successfulJobsHistoryLimit: int
    failedJobsHistoryLimit: int


class CronJobStatus(TypedDict, total=False):
    active: list[ObjectReference]
    lastScheduleTime: str
    lastSuccessfulTime: str


class CronJob(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: CronJobSpec
    status: CronJobStatus


def cron_job(obj: Mapping[str, Any]) -> CronJob:
    return cast(CronJob, obj)  # the apiserver's CronJob, untouched: a view, not a copy


# -- StorageClass -----------------------------------------------------------------------------

class StorageClass(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    provisioner: str
    parameters: dict[str, str]
    reclaimPolicy: str
    mountOptions: list[str]
    allowVolumeExpansion: bool
    volumeBindingMode: str
    allowedTopologies: list[dict[str, Any]]


def storage_class(obj: Mapping[str, Any]) -> StorageClass:
    """``obj`` (a StorageClass as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(StorageClass, obj)


# -- ResourceQuota ----------------------------------------------------------------------------

class ScopedResourceSelectorRequirement(TypedDict, total=False):
    scopeName: str
    operator: str
    values: list[str]


class ScopeSelector(TypedDict, total=False):
    matchExpressions: list[ScopedResourceSelectorRequirement]


class ResourceQuotaSpec(TypedDict, total=False):
    hard: dict[str, Any]  # resource name -> quantity, as sent (a string or a number)
    scopes: list[str]
    scopeSelector: ScopeSelector


class ResourceQuotaStatus(TypedDict, total=False):
    hard: dict[str, Any]
    used: dict[str, Any]


class ResourceQuota(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ResourceQuotaSpec
    status: ResourceQuotaStatus


def resource_quota(obj: Mapping[str, Any]) -> ResourceQuota:
    """``obj`` (a ResourceQuota as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(ResourceQuota, obj)


# -- Namespace --------------------------------------------------------------------------------

class NamespaceSpec(TypedDict, total=False):
    finalizers: list[str]


class NamespaceCondition(TypedDict, total=False):
    type: str
    status: str
    lastTransitionTime: str
    reason: str
    message: str


class NamespaceStatus(TypedDict, total=False):
    phase: str
    conditions: list[NamespaceCondition]


class Namespace(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NamespaceSpec
    status: NamespaceStatus


def namespace(obj: Mapping[str, Any]) -> Namespace:
    """``obj`` (a Namespace as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Namespace, obj)


# -- ConfigMap, Secret, ServiceAccount --------------------------------------------------------

class ConfigMap(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    immutable: bool
    data: dict[str, str]
    binaryData: dict[str, str]  # base64, as on the wire


class Secret(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    immutable: bool
    data: dict[str, str]  # base64, as on the wire
    type: str


class ServiceAccount(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    secrets: list[ObjectReference]
    imagePullSecrets: list[dict[str, Any]]
    automountServiceAccountToken: bool


def config_map(obj: Mapping[str, Any]) -> ConfigMap:
    """``obj`` (a ConfigMap as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(ConfigMap, obj)


def secret(obj: Mapping[str, Any]) -> Secret:
    """``obj`` (a Secret as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Secret, obj)


def service_account(obj: Mapping[str, Any]) -> ServiceAccount:
    """``obj`` (a ServiceAccount as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(ServiceAccount, obj)


# -- CertificateSigningRequest (certificates.k8s.io/v1) ----------------------------------------

class CertificateSigningRequestSpec(TypedDict, total=False):
    request: str  # base64 of the PEM "CERTIFICATE REQUEST"
    signerName: str
    expirationSeconds: int
    usages: list[str]
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class CertificateSigningRequestCondition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastUpdateTime: str
    lastTransitionTime: str


class CertificateSigningRequestStatus(TypedDict, total=False):
    conditions: list[CertificateSigningRequestCondition]
    certificate: str  # base64 of the PEM chain


class CertificateSigningRequest(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: CertificateSigningRequestSpec
    status: CertificateSigningRequestStatus


def certificate_signing_request(obj: Mapping[str, Any]) -> CertificateSigningRequest:
    """``obj`` (a CertificateSigningRequest as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(CertificateSigningRequest, obj)


# -- DaemonSet, ControllerRevision, StatefulSet (apps/v1), PodDisruptionBudget (policy/v1) ------

class RollingUpdateDaemonSet(TypedDict, total=False):
    maxUnavailable: int | str
    maxSurge: int | str


class DaemonSetUpdateStrategy(TypedDict, total=False):
    type: str
    rollingUpdate: RollingUpdateDaemonSet


class DaemonSetSpec(TypedDict, total=False):
    selector: LabelSelector
    template: PodTemplateSpec
    updateStrategy: DaemonSetUpdateStrategy
    minReadySeconds: int
    revisionHistoryLimit: int


class DaemonSetCondition(TypedDict, total=False):
    type: str
    status: str
    lastTransitionTime: str
    reason: str
    message: str


class DaemonSetStatus(TypedDict, total=False):
    currentNumberScheduled: int
    numberMisscheduled: int
    desiredNumberScheduled: int
    numberReady: int
    observedGeneration: int
    updatedNumberScheduled: int
    numberAvailable: int
    numberUnavailable: int
    collisionCount: int
    conditions: list[DaemonSetCondition]


class DaemonSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: DaemonSetSpec
    status: DaemonSetStatus


def daemon_set(obj: Mapping[str, Any]) -> DaemonSet:
    return cast(DaemonSet, obj)  # the apiserver's DaemonSet, untouched: a view, not a copy


class ControllerRevision(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, Any]  # the owner's patch, kept verbatim
    revision: int


def controller_revision(obj: Mapping[str, Any]) -> ControllerRevision:
    return cast(ControllerRevision, obj)  # the apiserver's ControllerRevision: a view, not a copy


class RollingUpdateStatefulSetStrategy(TypedDict, total=False):
    partition: int
    maxUnavailable: int | str


class StatefulSetUpdateStrategy(TypedDict, total=False):
    type: str
    rollingUpdate: RollingUpdateStatefulSetStrategy


class StatefulSetPersistentVolumeClaimRetentionPolicy(TypedDict, total=False):
    whenDeleted: str
    whenScaled: str


class StatefulSetOrdinals(TypedDict, total=False):
    start: int


class StatefulSetSpec(TypedDict, total=False):
    replicas: int
    selector: LabelSelector
    template: PodTemplateSpec
    volumeClaimTemplates: list[PersistentVolumeClaim]
    serviceName: str
    podManagementPolicy: str
    updateStrategy: StatefulSetUpdateStrategy
    revisionHistoryLimit: int
    minReadySeconds: int
    persistentVolumeClaimRetentionPolicy: StatefulSetPersistentVolumeClaimRetentionPolicy
    ordinals: StatefulSetOrdinals


class StatefulSetCondition(TypedDict, total=False):
    type: str
    status: str
    lastTransitionTime: str
    reason: str
    message: str


class StatefulSetStatus(TypedDict, total=False):
    observedGeneration: int
    replicas: int
    readyReplicas: int
    currentReplicas: int
    updatedReplicas: int
    currentRevision: str
    updateRevision: str
    collisionCount: int
    conditions: list[StatefulSetCondition]
    availableReplicas: int


class StatefulSet(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: StatefulSetSpec
    status: StatefulSetStatus


def stateful_set(obj: Mapping[str, Any]) -> StatefulSet:
    return cast(StatefulSet, obj)  # the apiserver's StatefulSet, untouched: a view, not a copy


class PodDisruptionBudgetSpec(TypedDict, total=False):
    minAvailable: int | str
    selector: LabelSelector
    maxUnavailable: int | str
    unhealthyPodEvictionPolicy: str


class PodDisruptionBudgetStatus(TypedDict, total=False):
    observedGeneration: int
    disruptedPods: dict[str, str]
    disruptionsAllowed: int
    currentHealthy: int
    desiredHealthy: int
    expectedPods: int
    conditions: list[dict[str, Any]]


class PodDisruptionBudget(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodDisruptionBudgetSpec
    status: PodDisruptionBudgetStatus


def pod_disruption_budget(obj: Mapping[str, Any]) -> PodDisruptionBudget:
    return cast(PodDisruptionBudget, obj)  # the apiserver's PodDisruptionBudget: a view, not a copy


# -- Lease (coordination.k8s.io/v1) -------------------------------------------------------------

class LeaseSpec(TypedDict, total=False):
    holderIdentity: str
    leaseDurationSeconds: int
    acquireTime: str
    renewTime: str
    leaseTransitions: int
    strategy: str
    preferredHolder: str


class Lease(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: LeaseSpec


def lease(obj: Mapping[str, Any]) -> Lease:
    """``obj`` (a Lease as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Lease, obj)


# -- ClusterRole (rbac.authorization.k8s.io/v1) -------------------------------------------------

class PolicyRule(TypedDict, total=False):
    verbs: list[str]
    apiGroups: list[str]
    resources: list[str]
    resourceNames: list[str]
    nonResourceURLs: list[str]


class AggregationRule(TypedDict, total=False):
    clusterRoleSelectors: list[LabelSelector]


class ClusterRole(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    rules: list[PolicyRule]
    aggregationRule: AggregationRule


def cluster_role(obj: Mapping[str, Any]) -> ClusterRole:
    """``obj`` (a ClusterRole as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(ClusterRole, obj)


# -- Endpoints (core/v1) ------------------------------------------------------------------------

class EndpointAddress(TypedDict, total=False):
    ip: str
    hostname: str
    nodeName: str
    targetRef: dict[str, Any]


class EndpointSubset(TypedDict, total=False):
    addresses: list[EndpointAddress]
    notReadyAddresses: list[EndpointAddress]
    ports: list[EndpointPort]  # core/v1's EndpointPort has discovery/v1's fields


class Endpoints(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    subsets: list[EndpointSubset]


def endpoints(obj: Mapping[str, Any]) -> Endpoints:
    """``obj`` (an Endpoints as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Endpoints, obj)
