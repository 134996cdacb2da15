"""An ECR pull-through cache of Docker Hub in the user's own account, for the EKS nodes.

Docker Hub allows 10 anonymous pulls per hour per IP address, and every node pulls through the
one NAT address: a stand-up needs about 30 pulls. The cache pulls from Docker Hub as the user's
Docker Hub account (no anonymous limit) and the nodes pull from ECR in their own region.

Creates, as children of one `ImageCache` component:
- a Secrets Manager secret `ecr-pullthroughcache/seldon-bench-...` with the Docker Hub user and
  access token (ECR reads pull-through credentials only from secrets with that prefix), deleted
  without the 30-day recovery window so a later stand-up can create it again;
- the `PullThroughCacheRule` for `registry-1.docker.io` under a per-stack repository prefix;
- one ECR repository per Docker Hub repository the benchmark pulls, declared (not left for the
  first pull to create) with `force_delete`, so `pulumi destroy` removes them with their images
  and the node role never needs `ecr:CreateRepository`;
- the node role's one extra permission, `ecr:BatchImportUpstreamImage` on those repositories
  (the managed AmazonEC2ContainerRegistryPullOnly policy covers the token and the pulls).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Sequence

import pulumi
import pulumi_aws as aws

from infra.settings import PROJECT, Settings

DOCKER_HUB = "registry-1.docker.io"
SECRET_PREFIX = "ecr-pullthroughcache/"
# ECR's limits on a pull-through cache rule's repository prefix (botocore ecr model,
# PullThroughCacheRuleRepositoryPrefix): 2 to 30 characters of lower-case path segments.
_PREFIX_MAX = 30
_PREFIX_PATTERN = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
# The node role may import exactly these upstream images; nothing else in ECR.
NODE_ACTIONS = ("ecr:BatchImportUpstreamImage",)


def cache_prefix(stack: str) -> str:
    """The repository prefix of this stack's cache: `sb/<stack>`, or `sb/<hash>` when the stack's
    name does not fit ECR's 30 characters or its pattern (two stacks never share a prefix)."""
    readable = f"sb/{stack}"
    if len(readable) <= _PREFIX_MAX and _PREFIX_PATTERN.match(readable):
        return readable
    return f"sb/{hashlib.sha256(stack.encode()).hexdigest()[:16]}"


def registry_host(account_id: str, region: str, dns_suffix: str = "amazonaws.com") -> str:
    return f"{account_id}.dkr.ecr.{region}.{dns_suffix}"


def node_policy(partition: str, region: str, account_id: str, prefix: str) -> str:
    """The node role's inline policy: import upstream images into this cache's repositories only."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PullThroughDockerHub",
            "Effect": "Allow",
            "Action": list(NODE_ACTIONS),
            "Resource": f"arn:{partition}:ecr:{region}:{account_id}:repository/{prefix}/*",
        }],
    })


def credentials(username: str, token: str) -> str:
    """The secret's value in the shape ECR's Docker Hub rules read."""
    return json.dumps({"username": username, "accessToken": token})


class ImageCache(pulumi.ComponentResource):
    """The pull-through cache; `registry` is what the workloads prefix every image with.

    Pods pull only once the rule, their repositories and the node's import right exist: the
    workloads depend on the component, so destroy deletes the pods first, then the repositories
    with their images.
    """

    registry: str
    repositories: list[aws.ecr.Repository]
    rule: aws.ecr.PullThroughCacheRule
    node_policy: aws.iam.RolePolicy

    def __init__(self, name: str, settings: Settings, node_role: aws.iam.Role,
                 docker_repositories: Sequence[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{PROJECT}:infra:ImageCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stack = pulumi.get_stack()
        prefix = cache_prefix(stack)
        identity = aws.get_caller_identity()
        partition = aws.get_partition()
        tags = {"Project": PROJECT, "Stack": stack}

        secret = aws.secretsmanager.Secret(
            "dockerhub-credentials",
            name_prefix=f"{SECRET_PREFIX}{PROJECT}-",
            description="Docker Hub credentials of the seldon-bench ECR pull-through cache",
            recovery_window_in_days=0,
            tags=tags,
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            "dockerhub-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(credentials(settings.docker_hub_username or "",
                                                           settings.docker_hub_token or "")),
            opts=child,
        )
        self.rule = aws.ecr.PullThroughCacheRule(
            "dockerhub-cache",
            ecr_repository_prefix=prefix,
            upstream_registry_url=DOCKER_HUB,
            credential_arn=secret.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[version]),
        )
        self.repositories = [
            aws.ecr.Repository(
                f"cache-{repository.replace('/', '-')}",
                name=f"{prefix}/{repository}",
                force_delete=True,
                tags=tags,
                opts=child,
            )
            for repository in docker_repositories
        ]
        self.node_policy = aws.iam.RolePolicy(
            "eks-node-ecr-cache",
            role=node_role.id,
            policy=node_policy(partition.partition, settings.region, identity.account_id, prefix),
            opts=child,
        )
        self.registry = f"{registry_host(identity.account_id, settings.region, partition.dns_suffix)}/{prefix}"
        self.register_outputs({"registry": self.registry})
