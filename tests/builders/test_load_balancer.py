"""The internet-facing ALB: HTTPS only (HTTP redirects), TLS 1.2+, the region's certificate."""

from __future__ import annotations

import pytest

from .example import as_list, make_spec, only, ref, regional_template, resources, tier_subnets

# ELB policies that refuse TLS 1.0 and 1.1 (Elastic Load Balancing's list of policies).
TLS12_OR_LATER = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
}


@pytest.fixture(scope="module")
def spec():
    return make_spec(load_balancer={"health_check_path": "/ready"}, compute={"app_port": 8080})


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


def listeners(template: dict) -> dict[int, dict]:
    found = resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    return {listener["Properties"]["Port"]: listener["Properties"] for listener in found}


def test_load_balancer_is_internet_facing_in_the_public_subnets(template):
    _, alb = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Type"] == "application"
    assert alb["Scheme"] == "internet-facing"
    assert alb["Subnets"] == [ref(s) for s in tier_subnets(template, "Public")]
    assert alb["SecurityGroups"] == [{"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}]


def test_load_balancer_drops_invalid_headers(template):
    _, alb = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_load_balancer_writes_access_logs_to_the_log_bucket(template):
    name, alb = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == ref("LogsBucket")
    # ELB checks it may write when the ALB is created: the bucket policy must exist first.
    (policy,) = [
        p
        for p, r in resources(template, "AWS::S3::BucketPolicy").items()
        if r["Properties"]["Bucket"] == ref("LogsBucket")
    ]
    assert policy in as_list(template["Resources"][name]["DependsOn"])


def test_only_ports_80_and_443_listen(template):
    assert set(listeners(template)) == {80, 443}


def test_http_listener_only_redirects_to_https(template):
    http = listeners(template)[80]
    assert http["Protocol"] == "HTTP"
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"
    rules = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert not [r for r in rules if r["Properties"]["ListenerArn"] == ref("HttpListener")]


def test_https_listener_uses_tls12_or_later(spec, template):
    https = listeners(template)[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == spec.load_balancer.ssl_policy
    assert https["SslPolicy"] in TLS12_OR_LATER


def test_https_listener_uses_the_spec_policy():
    policy = "ELBSecurityPolicy-TLS13-1-3-2021-06"
    template = regional_template(make_spec(load_balancer={"ssl_policy": policy}))
    assert listeners(template)[443]["SslPolicy"] == policy


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_https_listener_uses_the_regions_certificate(spec, region):
    https = listeners(regional_template(spec, region))[443]
    certificate = spec.load_balancer.certificate_arns[region]
    assert https["Certificates"] == [{"CertificateArn": certificate}]
    assert f":acm:{region}:" in certificate


def test_https_forwards_to_the_target_group(template):
    (action,) = listeners(template)[443]["DefaultActions"]
    assert action == {"Type": "forward", "TargetGroupArn": ref("AppTargetGroup")}


def test_target_group_checks_the_spec_path_on_the_app_port(template):
    name, group = only(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert name == "AppTargetGroup"
    assert group["HealthCheckPath"] == "/ready"
    assert group["Port"] == 8080
    assert group["VpcId"] == ref("Vpc")
    assert group["TargetType"] == "instance"
