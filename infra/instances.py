"""What a Kubernetes node of a given EC2 type offers pods: allocatable memory, pod slots.

Pure: an instance type in, MiB and pod counts out. `workloads.capacity` packs the benchmark's
pods onto these numbers; `workloads.loadtest` sizes iago's heaps from the loadgen node's.

How the kubelet on an EKS node arrives at its allocatable memory:

- capacity = the kernel's MemTotal, which is below the nominal size (kernel, page tables, the
  hypervisor's share). MemTotal is not published per type; this model takes 7.5 % off the
  nominal size, the default `vmMemoryOverheadPercent` Karpenter uses for the same purpose on EC2
  (a conservative figure: real MemTotal is usually 3-6 % below nominal).
- kube-reserved memory = 255 + 11 x maxPods MiB: AL2023's nodeadm
  (awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go `getMemoryMebibytesToReserve`)
  and Bottlerocket's `kube_reserve_memory` settings helper use the same formula; neither sets a
  system-reserved memory.
- maxPods = ENIs x (IPv4 addresses per ENI - 1) + 2, the VPC CNI's density without prefix
  delegation (nodeadm `calculateStandardMaxPods`, ENI figures from its instance-info.jsonl).
- eviction-hard memory.available = 100Mi (nodeadm's kubelet config; also the kubelet's built-in
  default, which this model assumes Bottlerocket keeps: not checked against its sources).
- then the EKS add-ons' own pods take their requests (`SYSTEM_PODS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Karpenter's default vmMemoryOverheadPercent (aws/karpenter-provider-aws chart values).
MEMTOTAL_OVERHEAD = 0.075
EVICTION_HARD_MIB = 100


@dataclass(frozen=True)
class InstanceType:
    name: str
    memory_mib: int  # nominal, as DescribeInstanceTypes MemoryInfo.SizeInMiB
    vcpus: int
    enis: int
    ipv4_per_eni: int

    @property
    def max_pods(self) -> int:
        return self.enis * (self.ipv4_per_eni - 1) + 2

    @property
    def memtotal_mib(self) -> int:
        return int(self.memory_mib * (1 - MEMTOTAL_OVERHEAD))

    @property
    def kube_reserved_mib(self) -> int:
        return 255 + 11 * self.max_pods

    @property
    def allocatable_mib(self) -> int:
        """The node's allocatable memory as the kubelet reports it, before any pod."""
        return self.memtotal_mib - self.kube_reserved_mib - EVICTION_HARD_MIB


# Memory, vCPUs, ENIs and IPv4 addresses per ENI of the types the stacks, the guide and the price
# table name: DescribeInstanceTypes (moto's snapshot, moto/ec2/resources/instance_types.json.gz)
# and nodeadm's instance-info.jsonl agree on every line.
INSTANCE_TYPES: dict[str, InstanceType] = {t.name: t for t in (
    InstanceType("m3.medium", 3840, 1, 2, 6),
    InstanceType("m3.large", 7680, 2, 3, 10),
    InstanceType("m3.xlarge", 15360, 4, 4, 15),
    InstanceType("m3.2xlarge", 30720, 8, 4, 30),
    InstanceType("m4.large", 8192, 2, 2, 10),
    InstanceType("m4.xlarge", 16384, 4, 4, 15),
    InstanceType("m4.2xlarge", 32768, 8, 4, 15),
    InstanceType("m5.large", 8192, 2, 3, 10),
    InstanceType("m5.xlarge", 16384, 4, 4, 15),
    InstanceType("m5.2xlarge", 32768, 8, 4, 15),
    InstanceType("m6i.large", 8192, 2, 3, 10),
    InstanceType("m6i.xlarge", 16384, 4, 4, 15),
    InstanceType("m6i.2xlarge", 32768, 8, 4, 15),
    InstanceType("m7i.large", 8192, 2, 3, 10),
    InstanceType("m7i.xlarge", 16384, 4, 4, 15),
    InstanceType("m7i.2xlarge", 32768, 8, 4, 15),
    InstanceType("c5.large", 4096, 2, 3, 10),
    InstanceType("c5.xlarge", 8192, 4, 4, 15),
    InstanceType("r5.large", 16384, 2, 3, 10),
    InstanceType("r5.xlarge", 32768, 4, 4, 15),
    InstanceType("t3.medium", 4096, 2, 3, 6),
    InstanceType("t3.large", 8192, 2, 3, 12),
)}


def instance_type(name: str) -> Optional[InstanceType]:
    """The facts of a known type, None for one this table does not hold (not checked offline)."""
    return INSTANCE_TYPES.get(name)


@dataclass(frozen=True)
class SystemPod:
    """A pod of an EKS add-on the program installs, with its memory request."""

    name: str
    memory_mib: int
    replicas: int = 0  # 0: a DaemonSet pod on every node; else a Deployment on the Seldon nodes


# Requests of the add-ons `infra.cluster` installs, from their upstream manifests:
# - aws-node (vpc-cni; aws/amazon-vpc-cni-k8s config/master/aws-k8s-cni.yaml): cpu only;
# - kube-proxy (EKS add-on): cpu only;
# - eks-pod-identity-agent (aws/eks-pod-identity-agent chart values): `resources: {}`;
# - ebs-csi-node: ebs-plugin 40Mi + node-driver-registrar 32Mi + liveness-probe 32Mi, and
#   ebs-csi-controller x2: ebs-plugin, csi-provisioner, -attacher, -snapshotter, -resizer 40Mi
#   each + liveness-probe 32Mi (kubernetes-sigs/aws-ebs-csi-driver deploy/kubernetes/base);
#   the node DaemonSet tolerates every taint, the controller none of ours;
# - coredns x2: 70Mi (kubernetes cluster/addons/dns/coredns, as the EKS add-on); it tolerates
#   only CriticalAddonsOnly, so it runs on the untainted Seldon nodes.
SYSTEM_PODS = (
    SystemPod("aws-node", 0),
    SystemPod("kube-proxy", 0),
    SystemPod("eks-pod-identity-agent", 0),
    SystemPod("ebs-csi-node", 40 + 32 + 32),
    SystemPod("coredns", 70, replicas=2),
    SystemPod("ebs-csi-controller", 5 * 40 + 32, replicas=2),
)


def daemonset_pods() -> list[SystemPod]:
    return [p for p in SYSTEM_PODS if not p.replicas]


def daemonset_memory_mib() -> int:
    """What the add-ons' DaemonSets request on every node."""
    return sum(p.memory_mib for p in daemonset_pods())


def pod_allocatable_mib(name: str) -> Optional[int]:
    """Memory left for the benchmark's pods on one node of type `name` (after the DaemonSets)."""
    t = instance_type(name)
    return None if t is None else t.allocatable_mib - daemonset_memory_mib()
