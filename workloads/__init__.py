def build(settings, infra):
    import pulumi_kubernetes as k8s, pulumi
    ns = k8s.core.v1.Namespace("ns", metadata={"name": settings.namespace}, opts=pulumi.ResourceOptions(provider=infra.k8s_provider))
    return {"namespace": ns.metadata["name"]}
