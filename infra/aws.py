import pulumi, pulumi_aws as aws, pulumi_kubernetes as k8s
from infra.handles import Infrastructure, DataVolume
def build(settings):
    vpc = aws.ec2.Vpc("vpc", cidr_block=settings.vpc_cidr)
    sn = aws.ec2.Subnet("s", vpc_id=vpc.id, cidr_block="10.0.1.0/24", opts=pulumi.ResourceOptions(depends_on=[vpc]))
    p = k8s.Provider("k8s", kubeconfig="{}")
    return Infrastructure(k8s_provider=p, data_volume=DataVolume(server="10.0.1.1", path="/gv0"), outputs={"vpcId": vpc.id})
