"""The web tier: hardened launch template, ASG in private subnets, least-privilege role."""

from __future__ import annotations

import pytest

from .example import (
    as_list,
    get_att,
    make_spec,
    only,
    policy_documents,
    props,
    ref,
    regional_template,
    regional_templates,
    tier_subnets,
)

SSM_IMAGE_TYPE = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"


@pytest.fixture(scope="module")
def spec():
    return make_spec(
        compute={"min_size": 3, "max_size": 7, "desired_capacity": 4, "cpu_target_percent": 45},
        storage={"buckets": [{"name": "assets"}, {"name": "uploads"}]},
    )


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


@pytest.fixture(scope="module")
def launch_data(template):
    return only(template, "AWS::EC2::LaunchTemplate")[1]["LaunchTemplateData"]


def test_instances_require_imdsv2(launch_data):
    options = launch_data["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    # one hop: a container on the instance cannot reach the instance's credentials
    assert options["HttpPutResponseHopLimit"] == 1


def test_every_volume_is_encrypted(launch_data):
    volumes = launch_data["BlockDeviceMappings"]
    assert volumes
    for volume in volumes:
        assert volume["Ebs"]["Encrypted"] is True


def test_instances_get_no_public_address(launch_data):
    for interface in launch_data.get("NetworkInterfaces", []):
        assert interface.get("AssociatePublicIpAddress") is not True


def test_image_comes_from_the_ssm_parameter(spec, template, launch_data):
    image = launch_data["ImageId"]["Ref"]
    parameter = template["Parameters"][image]
    assert parameter["Type"] == SSM_IMAGE_TYPE
    assert parameter["Default"] == spec.compute.image_parameter


def test_instances_use_the_app_group_and_the_instance_profile(spec, template, launch_data):
    assert launch_data["SecurityGroupIds"] == [get_att("AppSecurityGroup", "GroupId")]
    assert launch_data["InstanceType"] == spec.compute.instance_type
    profile_id = launch_data["IamInstanceProfile"]["Arn"]["Fn::GetAtt"][0]
    (role,) = props(template, profile_id)["Roles"]
    assert template["Resources"][role["Ref"]]["Type"] == "AWS::IAM::Role"


def test_group_runs_in_the_private_subnets(template):
    _, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    assert group["VPCZoneIdentifier"] == [ref(s) for s in tier_subnets(template, "Private")]


def test_group_sizes_and_health_follow_the_spec(spec, template):
    _, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    compute = spec.compute
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == ("3", "7", "4")
    assert (compute.min_size, compute.max_size, compute.desired_capacity) == (3, 7, 4)
    assert group["HealthCheckType"] == "ELB"
    assert group["TargetGroupARNs"] == [ref("AppTargetGroup")]
    assert group["LaunchTemplate"]["LaunchTemplateId"] == ref("LaunchTemplate")


@pytest.mark.parametrize("sizes", [(3, 7, 4), (2, 2, 2), (1, 1, 1), (1, 4, 1)])
def test_rolling_update_keeps_capacity_and_can_proceed(sizes):
    min_size, max_size, desired = sizes
    spec = make_spec(
        compute={"min_size": min_size, "max_size": max_size, "desired_capacity": desired}
    )
    template = regional_template(spec)
    rolling = template["Resources"]["AutoScalingGroup"]["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MaxBatchSize"] >= 1
    # CloudFormation refuses an update whose MinInstancesInService is not below MaxSize.
    assert rolling["MinInstancesInService"] < max_size
    assert rolling["MinInstancesInService"] >= min(min_size, max_size - 1)


def test_cpu_target_tracking_uses_the_spec_value(template):
    _, policy = only(template, "AWS::AutoScaling::ScalingPolicy")
    assert policy["AutoScalingGroupName"] == ref("AutoScalingGroup")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ASGAverageCPUUtilization"
    )
    assert tracking["TargetValue"] == 45


def instance_role(template: dict) -> dict:
    launch = only(template, "AWS::EC2::LaunchTemplate")[1]["LaunchTemplateData"]
    profile_id = launch["IamInstanceProfile"]["Arn"]["Fn::GetAtt"][0]
    return props(template, props(template, profile_id)["Roles"][0]["Ref"])


def test_instance_role_is_for_ec2_with_ssm_and_cloudwatch_agent(template):
    role = instance_role(template)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"},
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy"},
    ]


def role_grants(role: dict) -> list[tuple[str, dict, dict]]:
    """(action, resource, statement) for every Allow of the role's inline policies."""
    return [
        (action, resource, statement)
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def bucket_of(resource: dict) -> str | None:
    """The bucket a resource ARN names: `GetAtt B.Arn` or `Sub ${Arn}/... Arn=GetAtt B.Arn`."""
    if "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], list):
        resource = resource["Fn::Sub"][1].get("Arn", {})
    logical_id, attribute = resource.get("Fn::GetAtt", (None, None))
    return logical_id if attribute == "Arn" and logical_id.endswith("Bucket") else None


def test_instance_role_reads_only_the_specs_buckets(template):
    grants = role_grants(instance_role(template))
    spec_buckets = {"AssetsBucket", "UploadsBucket"}
    listed = {bucket_of(r) for a, r, _ in grants if a == "s3:ListBucket"}
    read = {bucket_of(r) for a, r, _ in grants if a == "s3:GetObject"}
    assert listed == read == spec_buckets
    for action, resource, _ in grants:
        if action == "s3:GetObject":
            assert resource["Fn::Sub"][0] == "${Arn}/*"
        if bucket_of(resource) in spec_buckets:
            assert action in ("s3:ListBucket", "s3:GetObject"), f"{action} on a spec bucket"


def test_instance_role_writes_no_spec_bucket_and_deletes_nothing(template):
    for action, resource, _ in role_grants(instance_role(template)):
        assert not action.startswith(("s3:Delete", "s3:PutBucket", "kms:Create", "iam:")), action
        if action.startswith("s3:Put"):
            assert bucket_of(resource) == "LogsBucket", f"{action} on {resource}"


def test_instance_role_decrypts_only_through_s3(template):
    decrypts = [(r, s) for a, r, s in role_grants(instance_role(template)) if a.startswith("kms:")]
    assert decrypts
    for resource, statement in decrypts:
        assert resource == get_att("DataKey", "Arn")
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
        }


def test_instance_role_reads_no_bucket_without_spec_buckets():
    template = regional_template(make_spec(storage={"buckets": []}, scheduled_tasks=[]))
    for action, resource, _ in role_grants(instance_role(template)):
        assert not action.startswith(("s3:Get", "s3:List")) or bucket_of(resource) == "LogsBucket"
        assert not action.startswith("kms:"), action


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_no_iam_policy_grants_wildcard_actions(region):
    for where, document in policy_documents(regional_template(make_spec(), region)):
        for statement in as_list(document["Statement"]):
            actions = as_list(statement.get("Action", [])) + as_list(statement.get("NotAction", []))
            assert "NotAction" not in statement, where
            for action in actions:
                assert "*" not in action, f"{where}: wildcard action {action}"
            if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource")):
                assert "*" not in actions, f"{where}: Action * on Resource *"


def test_iam_policies_are_found(template):
    # guards the test above against finding no policy at all
    assert len(list(policy_documents(template))) >= 4


# --- user data and the time a boot gets --------------------------------------------------


def test_user_data_is_the_specs_script_with_the_parameter_path(spec, launch_data):
    rendered = launch_data["UserData"]["Fn::Base64"]
    shebang, header, path_line, *rest = rendered.split("\n")
    original = spec.compute.user_data_script.split("\n")
    assert shebang == original[0] == "#!/bin/bash"
    assert header.startswith("# Added by infra compile")
    assert path_line == "export INFRA_PARAMETER_PATH='/storefront/production/'"
    assert rest == original[1:]


def test_no_user_data_without_the_setting():
    spec = make_spec(compute={"user_data": None})
    _, template = only(regional_template(spec), "AWS::EC2::LaunchTemplate")
    assert "UserData" not in template["LaunchTemplateData"]


def test_user_data_is_the_same_in_every_regional_template(spec):
    rendered = {
        path: only(template, "AWS::EC2::LaunchTemplate")[1]["LaunchTemplateData"]["UserData"]
        for path, template in regional_templates(spec).items()
    }
    assert len(set(map(str, rendered.values()))) == 1, sorted(rendered)  # StackSet too


def test_a_boot_that_installs_the_app_is_not_judged_too_early(template):
    _, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
    # ELB health only counts once an instance has had 10 minutes to install and start;
    # a rolling update waits as long between instances, since it waits for no signal.
    assert group["HealthCheckGracePeriod"] == 600
    update = template["Resources"]["AutoScalingGroup"]["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert (update["PauseTime"], update["WaitOnResourceSignals"]) == ("PT10M", False)
