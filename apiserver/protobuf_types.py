"""Field tables of the Kubernetes protobuf messages the apiserver can decode.

``apiserver.protobuf`` reads the wire format; this module says what each field number means.
The numbers come from Kubernetes' ``generated.proto`` files (``k8s.io/api/{core,apps,policy,
authentication,rbac,authorization,autoscaling}/v1``, ``autoscaling/v2`` and ``k8s.io/apimachinery/pkg/apis/meta/v1``); a field number never changes
meaning in Kubernetes, so an older or newer kubectl decodes the same way, and numbers this table
does not know are skipped.

The tables are written in a small text form, one message per block::

    message ContainerPort
    1 name string
    3 containerPort int?

A line is ``<number> <json name> <type>``. Types:

* ``string``, ``int`` (int32 and int64 alike), ``bool``, ``bytes`` (JSON: base64, as Go does);
* ``Time``, ``MicroTime`` (RFC 3339), ``Quantity``, ``IntOrString``, ``RawExtension``,
  ``FieldsV1`` (embedded JSON), or the name of another message;
* ``[]T`` for a repeated field, ``map[string]T`` for a map;
* a trailing ``?`` keeps a zero value (``0``, ``""``, ``false``) that arrived on the wire. Go's
  protobuf marshalling writes every non-pointer scalar, zero or not, and its JSON drops the
  ``omitempty`` zeros; a ``?`` marks the fields whose zero means something: Go pointers
  (``replicas: 0``, ``gracePeriodSeconds: 0``, ``runAsUser: 0``) and fields without
  ``omitempty`` whose zero is a valid value (``exitCode: 0``).

``<number> - inline T`` is an embedded Go struct (``Volume.VolumeSource``, ``Probe.ProbeHandler``):
its fields are merged into the enclosing JSON object, as Go's JSON encoding does.
"""

from __future__ import annotations

import dataclasses

__all__ = ["Field", "MESSAGES", "KINDS", "SCALARS", "SPECIAL", "message_for"]

# Types whose protobuf shape differs from their JSON shape; apiserver.protobuf converts each.
SPECIAL = frozenset({"Time", "MicroTime", "Quantity", "IntOrString", "RawExtension", "FieldsV1"})
SCALARS = frozenset({"string", "int", "bool", "bytes"})


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    name: str  # JSON name; "" for an inline (embedded) struct
    type: str  # a scalar, a SPECIAL type or a message name
    repeated: bool = False
    map: bool = False  # map<string, type>
    inline: bool = False
    keep_zero: bool = False


# --- meta/v1 ---------------------------------------------------------------------------------
_META = """
message ObjectMeta
1 name string
2 generateName string
3 namespace string
4 selfLink string
5 uid string
6 resourceVersion string
7 generation int
8 creationTimestamp Time
9 deletionTimestamp Time
10 deletionGracePeriodSeconds int?
11 labels map[string]string
12 annotations map[string]string
13 ownerReferences []OwnerReference
14 finalizers []string
17 managedFields []ManagedFieldsEntry

message OwnerReference
5 apiVersion string
1 kind string
3 name string
4 uid string
6 controller bool?
7 blockOwnerDeletion bool?

message ManagedFieldsEntry
1 manager string
2 operation string
3 apiVersion string
4 time Time
6 fieldsType string
7 fieldsV1 FieldsV1
8 subresource string

message LabelSelector
1 matchLabels map[string]string
2 matchExpressions []LabelSelectorRequirement

message LabelSelectorRequirement
1 key string
2 operator string
3 values []string

message ListMeta
1 selfLink string
2 resourceVersion string
3 continue string
4 remainingItemCount int?

message Condition
1 type string
2 status string
3 observedGeneration int
4 lastTransitionTime Time
5 reason string
6 message string

message DeleteOptions
1 gracePeriodSeconds int?
2 preconditions Preconditions
3 orphanDependents bool?
4 propagationPolicy string
5 dryRun []string

message Preconditions
1 uid string
2 resourceVersion string

message Status
1 metadata ListMeta
2 status string
3 message string
4 reason string
5 details StatusDetails
6 code int

message StatusDetails
1 name string
2 group string
3 kind string
6 uid string
4 causes []StatusCause
5 retryAfterSeconds int

message StatusCause
1 reason string
2 message string
3 field string
"""

# --- core/v1: objects ------------------------------------------------------------------------
_CORE_OBJECTS = """
message Namespace
1 metadata ObjectMeta
2 spec NamespaceSpec
3 status NamespaceStatus

message NamespaceSpec
1 finalizers []string

message NamespaceStatus
1 phase string
2 conditions []NamespaceCondition

message NamespaceCondition
1 type string
2 status string
4 lastTransitionTime Time
5 reason string
6 message string

message ConfigMap
1 metadata ObjectMeta
4 immutable bool?
2 data map[string]string
3 binaryData map[string]bytes

message Secret
1 metadata ObjectMeta
5 immutable bool?
2 data map[string]bytes
4 stringData map[string]string
3 type string

message ServiceAccount
1 metadata ObjectMeta
2 secrets []ObjectReference
3 imagePullSecrets []LocalObjectReference
4 automountServiceAccountToken bool?

message Binding
1 metadata ObjectMeta
2 target ObjectReference

message ObjectReference
1 kind string
2 namespace string
3 name string
4 uid string
5 apiVersion string
6 resourceVersion string
7 fieldPath string

message LocalObjectReference
1 name string

message TypedLocalObjectReference
1 apiGroup string?
2 kind string
3 name string

message TypedObjectReference
1 apiGroup string?
2 kind string
3 name string
4 namespace string?

message Event
1 metadata ObjectMeta
2 involvedObject ObjectReference
3 reason string
4 message string
5 source EventSource
6 firstTimestamp Time
7 lastTimestamp Time
8 count int
9 type string
10 eventTime MicroTime
11 series EventSeries
12 action string
13 related ObjectReference
14 reportingComponent string
15 reportingInstance string

message EventSeries
1 count int
2 lastObservedTime MicroTime

message EventSource
1 component string
2 host string

message Endpoints
1 metadata ObjectMeta
2 subsets []EndpointSubset

message EndpointSubset
1 addresses []EndpointAddress
2 notReadyAddresses []EndpointAddress
3 ports []EndpointPort

message EndpointAddress
1 ip string
3 hostname string
4 nodeName string?
2 targetRef ObjectReference

message EndpointPort
1 name string
2 port int
3 protocol string
4 appProtocol string?

message Service
1 metadata ObjectMeta
2 spec ServiceSpec
3 status ServiceStatus

message ServiceSpec
1 ports []ServicePort
2 selector map[string]string
3 clusterIP string
18 clusterIPs []string
4 type string
5 externalIPs []string
7 sessionAffinity string
8 loadBalancerIP string
9 loadBalancerSourceRanges []string
10 externalName string
11 externalTrafficPolicy string
12 healthCheckNodePort int
13 publishNotReadyAddresses bool
14 sessionAffinityConfig SessionAffinityConfig
19 ipFamilies []string
17 ipFamilyPolicy string?
20 allocateLoadBalancerNodePorts bool?
21 loadBalancerClass string?
22 internalTrafficPolicy string?
23 trafficDistribution string?

message ServicePort
1 name string
2 protocol string
6 appProtocol string?
3 port int
4 targetPort IntOrString
5 nodePort int

message SessionAffinityConfig
1 clientIP ClientIPConfig

message ClientIPConfig
1 timeoutSeconds int?

message ServiceStatus
1 loadBalancer LoadBalancerStatus
2 conditions []Condition

message LoadBalancerStatus
1 ingress []LoadBalancerIngress

message LoadBalancerIngress
1 ip string
2 hostname string
3 ipMode string?
4 ports []PortStatus

message PortStatus
1 port int
2 protocol string
3 error string?

message Node
1 metadata ObjectMeta
2 spec NodeSpec
3 status NodeStatus

message NodeSpec
1 podCIDR string
7 podCIDRs []string
3 providerID string
4 unschedulable bool
5 taints []Taint
6 configSource NodeConfigSource
2 externalID string

message Taint
1 key string
2 value string
3 effect string
4 timeAdded Time

message NodeConfigSource
2 configMap ConfigMapNodeConfigSource

message ConfigMapNodeConfigSource
1 namespace string
2 name string
3 uid string
4 resourceVersion string
5 kubeletConfigKey string

message NodeStatus
1 capacity map[string]Quantity
2 allocatable map[string]Quantity
3 phase string
4 conditions []NodeCondition
5 addresses []NodeAddress
6 daemonEndpoints NodeDaemonEndpoints
7 nodeInfo NodeSystemInfo
8 images []ContainerImage
9 volumesInUse []string
10 volumesAttached []AttachedVolume
11 config NodeConfigStatus
12 runtimeHandlers []NodeRuntimeHandler
13 features NodeFeatures
14 declaredFeatures []string

message NodeCondition
1 type string
2 status string
3 lastHeartbeatTime Time
4 lastTransitionTime Time
5 reason string
6 message string

message NodeAddress
1 type string
2 address string

message NodeDaemonEndpoints
1 kubeletEndpoint DaemonEndpoint

message DaemonEndpoint
1 Port int?

message NodeSystemInfo
1 machineID string?
2 systemUUID string?
3 bootID string?
4 kernelVersion string?
5 osImage string?
6 containerRuntimeVersion string?
7 kubeletVersion string?
8 kubeProxyVersion string?
9 operatingSystem string?
10 architecture string?
11 swap NodeSwapStatus

message NodeSwapStatus
1 capacity int?

message ContainerImage
1 names []string
2 sizeBytes int

message AttachedVolume
1 name string
2 devicePath string

message NodeConfigStatus
1 assigned NodeConfigSource
2 active NodeConfigSource
3 lastKnownGood NodeConfigSource
4 error string

message NodeRuntimeHandler
1 name string
2 features NodeRuntimeHandlerFeatures

message NodeRuntimeHandlerFeatures
1 recursiveReadOnlyMounts bool?
2 userNamespaces bool?

message NodeFeatures
1 supplementalGroupsPolicy bool?
2 containerUlimits bool?

message ReplicationController
1 metadata ObjectMeta
2 spec ReplicationControllerSpec
3 status ReplicationControllerStatus

message ReplicationControllerSpec
1 replicas int?
4 minReadySeconds int
2 selector map[string]string
3 template PodTemplateSpec

message ReplicationControllerStatus
1 replicas int?
2 fullyLabeledReplicas int
4 readyReplicas int
5 availableReplicas int
3 observedGeneration int
6 conditions []ReplicationControllerCondition

message ReplicationControllerCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string
5 message string

message PersistentVolumeClaim
1 metadata ObjectMeta
2 spec PersistentVolumeClaimSpec
3 status PersistentVolumeClaimStatus

message PersistentVolumeClaimSpec
1 accessModes []string
4 selector LabelSelector
2 resources VolumeResourceRequirements
3 volumeName string
5 storageClassName string?
6 volumeMode string?
7 dataSource TypedLocalObjectReference
8 dataSourceRef TypedObjectReference
9 volumeAttributesClassName string?

message VolumeResourceRequirements
1 limits map[string]Quantity
2 requests map[string]Quantity

message PersistentVolumeClaimStatus
1 phase string
2 accessModes []string
3 capacity map[string]Quantity
4 conditions []PersistentVolumeClaimCondition
5 allocatedResources map[string]Quantity
7 allocatedResourceStatuses map[string]string
8 currentVolumeAttributesClassName string?
9 modifyVolumeStatus ModifyVolumeStatus

message PersistentVolumeClaimCondition
1 type string
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string
6 message string

message ModifyVolumeStatus
1 targetVolumeAttributesClassName string
2 status string
"""

# --- core/v1: Pod and everything a PodSpec reaches --------------------------------------------
_CORE_POD = """
message Pod
1 metadata ObjectMeta
2 spec PodSpec
3 status PodStatus

message PodTemplateSpec
1 metadata ObjectMeta
2 spec PodSpec

message PodSpec
1 volumes []Volume
20 initContainers []Container
2 containers []Container
34 ephemeralContainers []EphemeralContainer
3 restartPolicy string
4 terminationGracePeriodSeconds int?
5 activeDeadlineSeconds int?
6 dnsPolicy string
7 nodeSelector map[string]string
8 serviceAccountName string
9 serviceAccount string
21 automountServiceAccountToken bool?
10 nodeName string
11 hostNetwork bool
12 hostPID bool
13 hostIPC bool
27 shareProcessNamespace bool?
14 securityContext PodSecurityContext
15 imagePullSecrets []LocalObjectReference
16 hostname string
17 subdomain string
18 affinity Affinity
19 schedulerName string
22 tolerations []Toleration
23 hostAliases []HostAlias
24 priorityClassName string
25 priority int?
26 dnsConfig PodDNSConfig
28 readinessGates []PodReadinessGate
29 runtimeClassName string?
30 enableServiceLinks bool?
31 preemptionPolicy string?
32 overhead map[string]Quantity
33 topologySpreadConstraints []TopologySpreadConstraint
35 setHostnameAsFQDN bool?
36 os PodOS
37 hostUsers bool?
38 schedulingGates []PodSchedulingGate
39 resourceClaims []PodResourceClaim
40 resources ResourceRequirements
41 hostnameOverride string?
42 workloadRef WorkloadReference

message Container
1 name string
2 image string
3 command []string
4 args []string
5 workingDir string
6 ports []ContainerPort
19 envFrom []EnvFromSource
7 env []EnvVar
8 resources ResourceRequirements
23 resizePolicy []ContainerResizePolicy
24 restartPolicy string?
25 restartPolicyRules []ContainerRestartRule
9 volumeMounts []VolumeMount
21 volumeDevices []VolumeDevice
10 livenessProbe Probe
11 readinessProbe Probe
22 startupProbe Probe
12 lifecycle Lifecycle
13 terminationMessagePath string
20 terminationMessagePolicy string
14 imagePullPolicy string
15 securityContext SecurityContext
16 stdin bool
17 stdinOnce bool
18 tty bool

message EphemeralContainer
1 - inline EphemeralContainerCommon
2 targetContainerName string

message EphemeralContainerCommon
1 name string
2 image string
3 command []string
4 args []string
5 workingDir string
6 ports []ContainerPort
19 envFrom []EnvFromSource
7 env []EnvVar
8 resources ResourceRequirements
23 resizePolicy []ContainerResizePolicy
24 restartPolicy string?
25 restartPolicyRules []ContainerRestartRule
9 volumeMounts []VolumeMount
21 volumeDevices []VolumeDevice
10 livenessProbe Probe
11 readinessProbe Probe
22 startupProbe Probe
12 lifecycle Lifecycle
13 terminationMessagePath string
20 terminationMessagePolicy string
14 imagePullPolicy string
15 securityContext SecurityContext
16 stdin bool
17 stdinOnce bool
18 tty bool

message ContainerPort
1 name string
2 hostPort int
3 containerPort int
4 protocol string
5 hostIP string

message ContainerResizePolicy
1 resourceName string
2 restartPolicy string

message ContainerRestartRule
1 action string
2 exitCodes ContainerRestartRuleOnExitCodes

message ContainerRestartRuleOnExitCodes
1 operator string
2 values []int

message EnvFromSource
1 prefix string
2 configMapRef ConfigMapEnvSource
3 secretRef SecretEnvSource

message ConfigMapEnvSource
1 - inline LocalObjectReference
2 optional bool?

message SecretEnvSource
1 - inline LocalObjectReference
2 optional bool?

message EnvVar
1 name string
2 value string
3 valueFrom EnvVarSource

message EnvVarSource
1 fieldRef ObjectFieldSelector
2 resourceFieldRef ResourceFieldSelector
3 configMapKeyRef ConfigMapKeySelector
4 secretKeyRef SecretKeySelector
5 fileKeyRef FileKeySelector

message ObjectFieldSelector
1 apiVersion string
2 fieldPath string

message ResourceFieldSelector
1 containerName string
2 resource string
3 divisor Quantity

message ConfigMapKeySelector
1 - inline LocalObjectReference
2 key string
3 optional bool?

message SecretKeySelector
1 - inline LocalObjectReference
2 key string
3 optional bool?

message FileKeySelector
1 volumeName string
2 path string
3 key string
4 optional bool?

message ResourceRequirements
1 limits map[string]Quantity
2 requests map[string]Quantity
3 claims []ResourceClaim

message ResourceClaim
1 name string
2 request string

message VolumeMount
1 name string
2 readOnly bool
7 recursiveReadOnly string?
3 mountPath string
4 subPath string
5 mountPropagation string?
6 subPathExpr string

message VolumeDevice
1 name string
2 devicePath string

message Probe
1 - inline ProbeHandler
2 initialDelaySeconds int
3 timeoutSeconds int
4 periodSeconds int
5 successThreshold int
6 failureThreshold int
7 terminationGracePeriodSeconds int?

message ProbeHandler
1 exec ExecAction
2 httpGet HTTPGetAction
3 tcpSocket TCPSocketAction
4 grpc GRPCAction

message ExecAction
1 command []string

message HTTPGetAction
1 path string
2 port IntOrString
3 host string
4 scheme string
5 httpHeaders []HTTPHeader

message HTTPHeader
1 name string
2 value string?

message TCPSocketAction
1 port IntOrString
2 host string

message GRPCAction
1 port int
2 service string?

message Lifecycle
1 postStart LifecycleHandler
2 preStop LifecycleHandler
3 stopSignal string?

message LifecycleHandler
1 exec ExecAction
2 httpGet HTTPGetAction
3 tcpSocket TCPSocketAction
4 sleep SleepAction

message SleepAction
1 seconds int?

message SecurityContext
1 capabilities Capabilities
2 privileged bool?
3 seLinuxOptions SELinuxOptions
10 windowsOptions WindowsSecurityContextOptions
4 runAsUser int?
8 runAsGroup int?
5 runAsNonRoot bool?
6 readOnlyRootFilesystem bool?
7 allowPrivilegeEscalation bool?
9 procMount string?
11 seccompProfile SeccompProfile
12 appArmorProfile AppArmorProfile
13 ulimits []Ulimit

message Capabilities
1 add []string
2 drop []string

message SELinuxOptions
1 user string
2 role string
3 type string
4 level string

message WindowsSecurityContextOptions
1 gmsaCredentialSpecName string?
2 gmsaCredentialSpec string?
3 runAsUserName string?
4 hostProcess bool?

message SeccompProfile
1 type string
2 localhostProfile string?

message AppArmorProfile
1 type string
2 localhostProfile string?

message Ulimit
1 name string
2 hard int?
3 soft int?

message PodSecurityContext
1 seLinuxOptions SELinuxOptions
8 windowsOptions WindowsSecurityContextOptions
2 runAsUser int?
6 runAsGroup int?
3 runAsNonRoot bool?
4 supplementalGroups []int
12 supplementalGroupsPolicy string?
5 fsGroup int?
7 sysctls []Sysctl
9 fsGroupChangePolicy string?
10 seccompProfile SeccompProfile
11 appArmorProfile AppArmorProfile
13 seLinuxChangePolicy string?

message Sysctl
1 name string
2 value string?

message Affinity
1 nodeAffinity NodeAffinity
2 podAffinity PodAffinity
3 podAntiAffinity PodAntiAffinity

message NodeAffinity
1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector
2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm

message NodeSelector
1 nodeSelectorTerms []NodeSelectorTerm

message NodeSelectorTerm
1 matchExpressions []NodeSelectorRequirement
2 matchFields []NodeSelectorRequirement

message NodeSelectorRequirement
1 key string
2 operator string
3 values []string

message PreferredSchedulingTerm
1 weight int
2 preference NodeSelectorTerm

message PodAffinity
1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm
2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm

message PodAntiAffinity
1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm
2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm

message PodAffinityTerm
1 labelSelector LabelSelector
2 namespaces []string
3 topologyKey string
4 namespaceSelector LabelSelector
5 matchLabelKeys []string
6 mismatchLabelKeys []string

message WeightedPodAffinityTerm
1 weight int
2 podAffinityTerm PodAffinityTerm

message Toleration
1 key string
2 operator string
3 value string
4 effect string
5 tolerationSeconds int?

message HostAlias
1 ip string
2 hostnames []string

message PodDNSConfig
1 nameservers []string
2 searches []string
3 options []PodDNSConfigOption

message PodDNSConfigOption
1 name string
2 value string?

message PodReadinessGate
1 conditionType string

message TopologySpreadConstraint
1 maxSkew int
2 topologyKey string
3 whenUnsatisfiable string
4 labelSelector LabelSelector
5 minDomains int?
6 nodeAffinityPolicy string?
7 nodeTaintsPolicy string?
8 matchLabelKeys []string

message PodOS
1 name string

message PodSchedulingGate
1 name string

message PodResourceClaim
1 name string
3 resourceClaimName string?
4 resourceClaimTemplateName string?

message WorkloadReference
1 name string
2 podGroup string
3 podGroupReplicaKey string

message Volume
1 name string
2 - inline VolumeSource

message VolumeSource
1 hostPath HostPathVolumeSource
2 emptyDir EmptyDirVolumeSource
3 gcePersistentDisk GCEPersistentDiskVolumeSource
4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource
5 gitRepo GitRepoVolumeSource
6 secret SecretVolumeSource
7 nfs NFSVolumeSource
8 iscsi ISCSIVolumeSource
9 glusterfs GlusterfsVolumeSource
10 persistentVolumeClaim PersistentVolumeClaimVolumeSource
11 rbd RBDVolumeSource
12 flexVolume FlexVolumeSource
13 cinder CinderVolumeSource
14 cephfs CephFSVolumeSource
15 flocker FlockerVolumeSource
16 downwardAPI DownwardAPIVolumeSource
17 fc FCVolumeSource
18 azureFile AzureFileVolumeSource
19 configMap ConfigMapVolumeSource
20 vsphereVolume VsphereVirtualDiskVolumeSource
21 quobyte QuobyteVolumeSource
22 azureDisk AzureDiskVolumeSource
23 photonPersistentDisk PhotonPersistentDiskVolumeSource
26 projected ProjectedVolumeSource
24 portworxVolume PortworxVolumeSource
25 scaleIO ScaleIOVolumeSource
27 storageos StorageOSVolumeSource
28 csi CSIVolumeSource
29 ephemeral EphemeralVolumeSource
30 image ImageVolumeSource

message HostPathVolumeSource
1 path string
2 type string?

message EmptyDirVolumeSource
1 medium string
2 sizeLimit Quantity

message SecretVolumeSource
1 secretName string
2 items []KeyToPath
3 defaultMode int?
4 optional bool?

message ConfigMapVolumeSource
1 - inline LocalObjectReference
2 items []KeyToPath
3 defaultMode int?
4 optional bool?

message KeyToPath
1 key string
2 path string
3 mode int?

message PersistentVolumeClaimVolumeSource
1 claimName string
2 readOnly bool

message DownwardAPIVolumeSource
1 items []DownwardAPIVolumeFile
2 defaultMode int?

message DownwardAPIVolumeFile
1 path string
2 fieldRef ObjectFieldSelector
3 resourceFieldRef ResourceFieldSelector
4 mode int?

message DownwardAPIProjection
1 items []DownwardAPIVolumeFile

message ProjectedVolumeSource
1 sources []VolumeProjection
2 defaultMode int?

message VolumeProjection
1 secret SecretProjection
2 downwardAPI DownwardAPIProjection
3 configMap ConfigMapProjection
4 serviceAccountToken ServiceAccountTokenProjection
5 clusterTrustBundle ClusterTrustBundleProjection
6 podCertificate PodCertificateProjection

message SecretProjection
1 - inline LocalObjectReference
2 items []KeyToPath
4 optional bool?

message ConfigMapProjection
1 - inline LocalObjectReference
2 items []KeyToPath
4 optional bool?

message ServiceAccountTokenProjection
1 audience string
2 expirationSeconds int?
3 path string

message ClusterTrustBundleProjection
1 name string?
2 signerName string?
3 labelSelector LabelSelector
5 optional bool?
4 path string

message PodCertificateProjection
1 signerName string
2 keyType string
3 maxExpirationSeconds int?
4 credentialBundlePath string
5 keyPath string
6 certificateChainPath string
7 userAnnotations map[string]string

message EphemeralVolumeSource
1 volumeClaimTemplate PersistentVolumeClaimTemplate

message PersistentVolumeClaimTemplate
1 metadata ObjectMeta
2 spec PersistentVolumeClaimSpec

message ImageVolumeSource
1 reference string
2 pullPolicy string

message CSIVolumeSource
1 driver string
2 readOnly bool?
3 fsType string?
4 volumeAttributes map[string]string
5 nodePublishSecretRef LocalObjectReference

message NFSVolumeSource
1 server string
2 path string
3 readOnly bool

message ISCSIVolumeSource
1 targetPortal string
2 iqn string
3 lun int?
4 iscsiInterface string
5 fsType string
6 readOnly bool
7 portals []string
8 chapAuthDiscovery bool
11 chapAuthSession bool
10 secretRef LocalObjectReference
12 initiatorName string?

message GCEPersistentDiskVolumeSource
1 pdName string
2 fsType string
3 partition int
4 readOnly bool

message AWSElasticBlockStoreVolumeSource
1 volumeID string
2 fsType string
3 partition int
4 readOnly bool

message GitRepoVolumeSource
1 repository string
2 revision string
3 directory string

message GlusterfsVolumeSource
1 endpoints string
2 path string
3 readOnly bool

message RBDVolumeSource
1 monitors []string
2 image string
3 fsType string
4 pool string
5 user string
6 keyring string
7 secretRef LocalObjectReference
8 readOnly bool

message FlexVolumeSource
1 driver string
2 fsType string
3 secretRef LocalObjectReference
4 readOnly bool
5 options map[string]string

message CinderVolumeSource
1 volumeID string
2 fsType string
3 readOnly bool
4 secretRef LocalObjectReference

message CephFSVolumeSource
1 monitors []string
2 path string
3 user string
4 secretFile string
5 secretRef LocalObjectReference
6 readOnly bool

message FlockerVolumeSource
1 datasetName string
2 datasetUUID string

message FCVolumeSource
1 targetWWNs []string
2 lun int?
3 fsType string
4 readOnly bool
5 wwids []string

message AzureFileVolumeSource
1 secretName string
2 shareName string
3 readOnly bool

message AzureDiskVolumeSource
1 diskName string
2 diskURI string
3 cachingMode string?
4 fsType string?
5 readOnly bool?
6 kind string?

message VsphereVirtualDiskVolumeSource
1 volumePath string
2 fsType string
3 storagePolicyName string
4 storagePolicyID string

message QuobyteVolumeSource
1 registry string
2 volume string
3 readOnly bool
4 user string
5 group string
6 tenant string

message PhotonPersistentDiskVolumeSource
1 pdID string
2 fsType string

message PortworxVolumeSource
1 volumeID string
2 fsType string
3 readOnly bool

message ScaleIOVolumeSource
1 gateway string
2 system string
3 secretRef LocalObjectReference
4 sslEnabled bool
5 protectionDomain string
6 storagePool string
7 storageMode string
8 volumeName string
9 fsType string
10 readOnly bool

message StorageOSVolumeSource
1 volumeName string
2 volumeNamespace string
3 fsType string
4 readOnly bool
5 secretRef LocalObjectReference

message PodStatus
17 observedGeneration int
1 phase string
2 conditions []PodCondition
3 message string
4 reason string
11 nominatedNodeName string
5 hostIP string
16 hostIPs []HostIP
6 podIP string
12 podIPs []PodIP
7 startTime Time
10 initContainerStatuses []ContainerStatus
8 containerStatuses []ContainerStatus
9 qosClass string
13 ephemeralContainerStatuses []ContainerStatus
14 resize string
15 resourceClaimStatuses []PodResourceClaimStatus
18 extendedResourceClaimStatus PodExtendedResourceClaimStatus
19 allocatedResources map[string]Quantity
20 resources ResourceRequirements

message PodCondition
1 type string
7 observedGeneration int
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string
6 message string

message HostIP
1 ip string

message PodIP
1 ip string

message PodResourceClaimStatus
1 name string
2 resourceClaimName string?

message PodExtendedResourceClaimStatus
1 requestMappings []ContainerExtendedResourceRequest
2 resourceClaimName string

message ContainerExtendedResourceRequest
1 containerName string
2 resourceName string
3 requestName string

message ContainerStatus
1 name string
2 state ContainerState
3 lastState ContainerState
4 ready bool?
5 restartCount int?
6 image string
7 imageID string
8 containerID string
9 started bool?
10 allocatedResources map[string]Quantity
11 resources ResourceRequirements
12 volumeMounts []VolumeMountStatus
13 user ContainerUser
14 allocatedResourcesStatus []ResourceStatus
15 stopSignal string?

message ContainerState
1 waiting ContainerStateWaiting
2 running ContainerStateRunning
3 terminated ContainerStateTerminated

message ContainerStateWaiting
1 reason string
2 message string

message ContainerStateRunning
1 startedAt Time

message ContainerStateTerminated
1 exitCode int?
2 signal int
3 reason string
4 message string
5 startedAt Time
6 finishedAt Time
7 containerID string

message VolumeMountStatus
1 name string
2 mountPath string
3 readOnly bool
4 recursiveReadOnly string?
5 volumeStatus VolumeStatus

message VolumeStatus
1 image ImageVolumeStatus

message ImageVolumeStatus
1 imageRef string

message ContainerUser
1 linux LinuxContainerUser

message LinuxContainerUser
1 uid int?
2 gid int?
3 supplementalGroups []int

message ResourceStatus
1 name string
2 resources []ResourceHealth

message ResourceHealth
1 resourceID string
2 health string
6 message string?
"""

# --- apps/v1 ---------------------------------------------------------------------------------
_APPS = """
message Deployment
1 metadata ObjectMeta
2 spec DeploymentSpec
3 status DeploymentStatus

message DeploymentSpec
1 replicas int?
2 selector LabelSelector
3 template PodTemplateSpec
4 strategy DeploymentStrategy
5 minReadySeconds int
6 revisionHistoryLimit int?
7 paused bool
9 progressDeadlineSeconds int?
10 podReplacementPolicy string?

message DeploymentStrategy
1 type string
2 rollingUpdate RollingUpdateDeployment

message RollingUpdateDeployment
1 maxUnavailable IntOrString
2 maxSurge IntOrString

message DeploymentStatus
1 observedGeneration int
2 replicas int
3 updatedReplicas int
7 readyReplicas int
4 availableReplicas int
5 unavailableReplicas int
9 terminatingReplicas int?
6 conditions []DeploymentCondition
8 collisionCount int?

message DeploymentCondition
1 type string
2 status string
6 lastUpdateTime Time
7 lastTransitionTime Time
4 reason string
5 message string

message ReplicaSet
1 metadata ObjectMeta
2 spec ReplicaSetSpec
3 status ReplicaSetStatus

message ReplicaSetSpec
1 replicas int?
4 minReadySeconds int
2 selector LabelSelector
3 template PodTemplateSpec

message ReplicaSetStatus
1 replicas int?
2 fullyLabeledReplicas int
4 readyReplicas int
5 availableReplicas int
7 terminatingReplicas int?
3 observedGeneration int
6 conditions []ReplicaSetCondition

message ReplicaSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string
5 message string

message StatefulSet
1 metadata ObjectMeta
2 spec StatefulSetSpec
3 status StatefulSetStatus

message StatefulSetSpec
1 replicas int?
2 selector LabelSelector
3 template PodTemplateSpec
4 volumeClaimTemplates []PersistentVolumeClaim
5 serviceName string
6 podManagementPolicy string
7 updateStrategy StatefulSetUpdateStrategy
8 revisionHistoryLimit int?
9 minReadySeconds int
10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy
11 ordinals StatefulSetOrdinals

message StatefulSetUpdateStrategy
1 type string
2 rollingUpdate RollingUpdateStatefulSetStrategy

message RollingUpdateStatefulSetStrategy
1 partition int?
2 maxUnavailable IntOrString

message StatefulSetPersistentVolumeClaimRetentionPolicy
1 whenDeleted string
2 whenScaled string

message StatefulSetOrdinals
1 start int

message StatefulSetStatus
1 observedGeneration int
2 replicas int?
3 readyReplicas int
4 currentReplicas int
5 updatedReplicas int
6 currentRevision string
7 updateRevision string
9 collisionCount int?
10 conditions []StatefulSetCondition
11 availableReplicas int

message StatefulSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string
5 message string

message DaemonSet
1 metadata ObjectMeta
2 spec DaemonSetSpec
3 status DaemonSetStatus

message DaemonSetSpec
1 selector LabelSelector
2 template PodTemplateSpec
3 updateStrategy DaemonSetUpdateStrategy
4 minReadySeconds int
6 revisionHistoryLimit int?

message DaemonSetUpdateStrategy
1 type string
2 rollingUpdate RollingUpdateDaemonSet

message RollingUpdateDaemonSet
1 maxUnavailable IntOrString
2 maxSurge IntOrString

message DaemonSetStatus
1 currentNumberScheduled int?
2 numberMisscheduled int?
3 desiredNumberScheduled int?
4 numberReady int?
5 observedGeneration int
6 updatedNumberScheduled int
7 numberAvailable int
8 numberUnavailable int
9 collisionCount int?
10 conditions []DaemonSetCondition

message DaemonSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string
5 message string

message ControllerRevision
1 metadata ObjectMeta
2 data RawExtension
3 revision int?
"""

# --- batch/v1 --------------------------------------------------------------------------------
_BATCH = """
message Job
1 metadata ObjectMeta
2 spec JobSpec
3 status JobStatus

message JobSpec
1 parallelism int?
2 completions int?
3 activeDeadlineSeconds int?
11 podFailurePolicy PodFailurePolicy
16 successPolicy SuccessPolicy
7 backoffLimit int?
12 backoffLimitPerIndex int?
13 maxFailedIndexes int?
4 selector LabelSelector
5 manualSelector bool?
6 template PodTemplateSpec
8 ttlSecondsAfterFinished int?
9 completionMode string
10 suspend bool?
14 podReplacementPolicy string
15 managedBy string

message PodFailurePolicy
1 rules []PodFailurePolicyRule

message PodFailurePolicyRule
1 action string
2 onExitCodes PodFailurePolicyOnExitCodesRequirement
3 onPodConditions []PodFailurePolicyOnPodConditionsPattern

message PodFailurePolicyOnExitCodesRequirement
1 containerName string
2 operator string
3 values []int

message PodFailurePolicyOnPodConditionsPattern
1 type string
2 status string

message SuccessPolicy
1 rules []SuccessPolicyRule

message SuccessPolicyRule
1 succeededIndexes string
2 succeededCount int?

message JobStatus
1 conditions []JobCondition
2 startTime Time
3 completionTime Time
4 active int
5 succeeded int
6 failed int
11 terminating int?
7 completedIndexes string
10 failedIndexes string
8 uncountedTerminatedPods UncountedTerminatedPods
9 ready int?

message JobCondition
1 type string
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string
6 message string

message UncountedTerminatedPods
1 succeeded []string
2 failed []string

message JobTemplateSpec
1 metadata ObjectMeta
2 spec JobSpec

message CronJob
1 metadata ObjectMeta
2 spec CronJobSpec
3 status CronJobStatus

message CronJobSpec
1 schedule string
8 timeZone string
2 startingDeadlineSeconds int?
3 concurrencyPolicy string
4 suspend bool?
5 jobTemplate JobTemplateSpec
6 successfulJobsHistoryLimit int?
7 failedJobsHistoryLimit int?

message CronJobStatus
1 active []ObjectReference
4 lastScheduleTime Time
5 lastSuccessfulTime Time
"""

# --- policy/v1, authentication/v1 -------------------------------------------------------------
_OTHERS = """
message PodDisruptionBudget
1 metadata ObjectMeta
2 spec PodDisruptionBudgetSpec
3 status PodDisruptionBudgetStatus

message PodDisruptionBudgetSpec
1 minAvailable IntOrString
2 selector LabelSelector
3 maxUnavailable IntOrString
4 unhealthyPodEvictionPolicy string

message PodDisruptionBudgetStatus
1 observedGeneration int
2 disruptedPods map[string]Time
3 disruptionsAllowed int
4 currentHealthy int
5 desiredHealthy int
6 expectedPods int
7 conditions []Condition

message Eviction
1 metadata ObjectMeta
2 deleteOptions DeleteOptions

message TokenRequest
1 metadata ObjectMeta
2 spec TokenRequestSpec
3 status TokenRequestStatus

message TokenRequestSpec
1 audiences []string
4 expirationSeconds int?
3 boundObjectRef BoundObjectReference

message BoundObjectReference
1 kind string
2 apiVersion string
3 name string
4 uid string

message TokenRequestStatus
1 token string
2 expirationTimestamp Time
"""


# --- rbac.authorization.k8s.io/v1, authorization.k8s.io/v1 --------------------------------------
_RBAC = """
message PolicyRule
1 verbs []string
2 apiGroups []string
3 resources []string
4 resourceNames []string
5 nonResourceURLs []string

message AggregationRule
1 clusterRoleSelectors []LabelSelector

message Role
1 metadata ObjectMeta
2 rules []PolicyRule

message ClusterRole
1 metadata ObjectMeta
2 rules []PolicyRule
3 aggregationRule AggregationRule

message Subject
1 kind string
2 apiGroup string
3 name string
4 namespace string

message RoleRef
1 apiGroup string
2 kind string
3 name string

message RoleBinding
1 metadata ObjectMeta
2 subjects []Subject
3 roleRef RoleRef

message ClusterRoleBinding
1 metadata ObjectMeta
2 subjects []Subject
3 roleRef RoleRef

message ResourceAttributes
1 namespace string
2 verb string
3 group string
4 version string
5 resource string
6 subresource string
7 name string

message NonResourceAttributes
1 path string
2 verb string

message SelfSubjectAccessReviewSpec
1 resourceAttributes ResourceAttributes
2 nonResourceAttributes NonResourceAttributes

message SubjectAccessReviewSpec
1 resourceAttributes ResourceAttributes
2 nonResourceAttributes NonResourceAttributes
3 user string
4 groups []string
6 uid string

message SelfSubjectAccessReview
1 metadata ObjectMeta
2 spec SelfSubjectAccessReviewSpec

message SubjectAccessReview
1 metadata ObjectMeta
2 spec SubjectAccessReviewSpec

message SelfSubjectRulesReviewSpec
1 namespace string

message SelfSubjectRulesReview
1 metadata ObjectMeta
2 spec SelfSubjectRulesReviewSpec

message SelfSubjectReview
1 metadata ObjectMeta
"""

# --- core/v1 ResourceQuota and LimitRange, scheduling.k8s.io/v1 PriorityClass ------------------
_POLICY = """
message ResourceQuota
1 metadata ObjectMeta
2 spec ResourceQuotaSpec
3 status ResourceQuotaStatus

message ResourceQuotaSpec
1 hard map[string]Quantity
2 scopes []string
3 scopeSelector ScopeSelector

message ScopeSelector
1 matchExpressions []ScopedResourceSelectorRequirement

message ScopedResourceSelectorRequirement
1 scopeName string
2 operator string
3 values []string

message ResourceQuotaStatus
1 hard map[string]Quantity
2 used map[string]Quantity

message LimitRange
1 metadata ObjectMeta
2 spec LimitRangeSpec

message LimitRangeSpec
1 limits []LimitRangeItem

message LimitRangeItem
1 type string
2 max map[string]Quantity
3 min map[string]Quantity
4 default map[string]Quantity
5 defaultRequest map[string]Quantity
6 maxLimitRequestRatio map[string]Quantity

message PriorityClass
1 metadata ObjectMeta
2 value int?
3 globalDefault bool
4 description string
5 preemptionPolicy string
"""



def _parse(text: str) -> dict[str, dict[int, Field]]:
    messages: dict[str, dict[int, Field]] = {}
    current: dict[int, Field] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if parts[0] == "message":
            if parts[1] in messages:
                raise ValueError(f"message {parts[1]} declared twice")
            current = messages[parts[1]] = {}
            continue
        if current is None:
            raise ValueError(f"line {lineno}: field outside a message: {line!r}")
        number = int(parts[0])
        if number in current:
            raise ValueError(f"line {lineno}: field number {number} used twice")
        if parts[1:3] == ["-", "inline"]:
            current[number] = Field(name="", type=parts[3], inline=True)
            continue
        name, spec = parts[1], parts[2]
        keep_zero = spec.endswith("?")
        spec = spec.rstrip("?")
        repeated = spec.startswith("[]")
        is_map = spec.startswith("map[string]")
        spec = spec.removeprefix("[]").removeprefix("map[string]")
        current[number] = Field(name=name, type=spec, repeated=repeated, map=is_map, keep_zero=keep_zero)
    return messages


# --- core/v1 PersistentVolume, storage.k8s.io/v1 StorageClass ----------------------------------
# PersistentVolumeSource is embedded in the spec (field 2). Sources minik8s keeps verbatim but
# does not act on have no table: a client sending one gets it skipped, as an unknown field.
_STORAGE = """
message PersistentVolume
1 metadata ObjectMeta
2 spec PersistentVolumeSpec
3 status PersistentVolumeStatus

message PersistentVolumeSpec
1 capacity map[string]Quantity
2 - inline PersistentVolumeSource
3 accessModes []string
4 claimRef ObjectReference
5 persistentVolumeReclaimPolicy string
6 storageClassName string
7 mountOptions []string
8 volumeMode string?
9 nodeAffinity VolumeNodeAffinity
10 volumeAttributesClassName string?

message PersistentVolumeSource
3 hostPath HostPathVolumeSource
20 local LocalVolumeSource

message LocalVolumeSource
1 path string
2 fsType string?

message VolumeNodeAffinity
1 required NodeSelector

message PersistentVolumeStatus
1 phase string
2 message string
3 reason string
4 lastPhaseTransitionTime Time

message StorageClass
1 metadata ObjectMeta
2 provisioner string
3 parameters map[string]string
4 reclaimPolicy string?
5 mountOptions []string
6 allowVolumeExpansion bool?
7 volumeBindingMode string?
8 allowedTopologies []TopologySelectorTerm

message TopologySelectorTerm
1 matchLabelExpressions []TopologySelectorLabelRequirement

message TopologySelectorLabelRequirement
1 key string
2 values []string
"""

# --- certificates.k8s.io/v1 ------------------------------------------------------------------
# spec.extra (6, map<string, ExtraValue>) is left out: the server sets the requestor fields.
_CERTIFICATES = """
message CertificateSigningRequest
1 metadata ObjectMeta
2 spec CertificateSigningRequestSpec
3 status CertificateSigningRequestStatus

message CertificateSigningRequestSpec
1 request bytes
7 signerName string
8 expirationSeconds int?
5 usages []string
2 username string
3 uid string
4 groups []string

message CertificateSigningRequestStatus
1 conditions []CertificateSigningRequestCondition
2 certificate bytes

message CertificateSigningRequestCondition
1 type string
6 status string
2 reason string
3 message string
4 lastUpdateTime Time
5 lastTransitionTime Time
"""

# k8s.io/api/autoscaling/v1 and v2 (kubectl autoscale creates a v1 object)
_AUTOSCALING = """
message HorizontalPodAutoscalerV1
1 metadata ObjectMeta
2 spec HorizontalPodAutoscalerSpecV1
3 status HorizontalPodAutoscalerStatusV1

message CrossVersionObjectReference
1 kind string
2 name string
3 apiVersion string

message HorizontalPodAutoscalerSpecV1
1 scaleTargetRef CrossVersionObjectReference
2 minReplicas int?
3 maxReplicas int?
4 targetCPUUtilizationPercentage int?

message HorizontalPodAutoscalerStatusV1
1 observedGeneration int?
2 lastScaleTime Time
3 currentReplicas int?
4 desiredReplicas int?
5 currentCPUUtilizationPercentage int?

message HorizontalPodAutoscalerV2
1 metadata ObjectMeta
2 spec HorizontalPodAutoscalerSpecV2

message HorizontalPodAutoscalerSpecV2
1 scaleTargetRef CrossVersionObjectReference
2 minReplicas int?
3 maxReplicas int?
4 metrics []MetricSpecV2
5 behavior HorizontalPodAutoscalerBehaviorV2

message MetricSpecV2
1 type string
4 resource ResourceMetricSourceV2
7 containerResource ContainerResourceMetricSourceV2

message ResourceMetricSourceV2
1 name string
2 target MetricTargetV2

message ContainerResourceMetricSourceV2
1 name string
2 target MetricTargetV2
3 container string

message MetricTargetV2
1 type string
2 value Quantity
3 averageValue Quantity
4 averageUtilization int?

message HorizontalPodAutoscalerBehaviorV2
1 scaleUp HPAScalingRulesV2
2 scaleDown HPAScalingRulesV2

message HPAScalingRulesV2
3 stabilizationWindowSeconds int?
1 selectPolicy string
2 policies []HPAScalingPolicyV2

message HPAScalingPolicyV2
1 type string
2 value int?
3 periodSeconds int?
"""

MESSAGES: dict[str, dict[int, Field]] = _parse(_META + _CORE_OBJECTS + _CORE_POD + _APPS + _BATCH + _OTHERS + _RBAC
                                               + _STORAGE + _CERTIFICATES
                                               + _POLICY + _AUTOSCALING)

# (apiVersion, kind) of a runtime.Unknown's typeMeta -> the message its raw bytes hold.
KINDS: dict[tuple[str, str], str] = {
    **{("v1", k): k for k in (
        "Namespace", "ConfigMap", "Secret", "Service", "Pod", "Binding", "Event", "Node",
        "Endpoints", "ServiceAccount", "ReplicationController", "PersistentVolumeClaim",
        "PersistentVolume", "DeleteOptions", "ResourceQuota", "LimitRange",
    )},
    ("storage.k8s.io/v1", "StorageClass"): "StorageClass",
    **{("apps/v1", k): k for k in (
        "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision",
    )},
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("policy/v1", "Eviction"): "Eviction",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("policy/v1beta1", "Eviction"): "Eviction",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    **{("rbac.authorization.k8s.io/v1", k): k for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")},
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "CertificateSigningRequest",
    **{("authorization.k8s.io/v1", k): m for k, m in (
        ("SelfSubjectAccessReview", "SelfSubjectAccessReview"), ("SelfSubjectRulesReview", "SelfSubjectRulesReview"),
        ("SubjectAccessReview", "SubjectAccessReview"), ("LocalSubjectAccessReview", "SubjectAccessReview"),
    )},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV1",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV2",
}


def message_for(api_version: str, kind: str) -> str | None:
    """The message name for a typeMeta; DeleteOptions is registered in every group version."""
    if kind == "DeleteOptions":
        return "DeleteOptions"
    return KINDS.get((api_version, kind))
