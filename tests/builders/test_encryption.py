"""The region's KMS key: rotated, administered through IAM, usable by CloudWatch Logs."""

from __future__ import annotations

import pytest

from .example import every_template, make_spec, only, ref, regional_template, resources


@pytest.fixture(scope="module")
def template():
    return regional_template(make_spec())


@pytest.fixture(scope="module")
def statements(template):
    return {s["Sid"]: s for s in only(template, "AWS::KMS::Key")[1]["KeyPolicy"]["Statement"]}


def test_key_rotates(template):
    _, key = only(template, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True


def test_key_outlives_the_stack(template):
    name, _ = only(template, "AWS::KMS::Key")
    assert template["Resources"][name]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert template["Resources"][name]["UpdateReplacePolicy"] == "Retain"


def test_no_statement_allows_everyone(statements):
    for sid, statement in statements.items():
        if statement["Effect"] == "Allow":
            assert statement["Principal"] not in ("*", {"AWS": "*"}), sid
        else:
            assert sid == "DenyGrantsNotForAwsResources", sid


def customer_keys(spec) -> dict[str, dict]:
    """Every customer-managed key of every template of `spec`, by template and ID."""
    return {
        f"{path}:{name}": key["Properties"]
        for path, template in every_template(spec).items()
        for name, key in resources(template, "AWS::KMS::Key").items()
    }


def test_every_customer_key_denies_grants_not_for_aws_resources():
    keys = customer_keys(make_spec())
    assert any(path.startswith("global.json:") for path in keys)  # the trail key too
    for path, key in keys.items():
        denies = [s for s in key["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
        assert denies == [
            {
                "Sid": "DenyGrantsNotForAwsResources",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                # Only direct grants: RDS, Lambda and Auto Scaling's EBS make theirs on
                # the caller's behalf, with this key true.
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}},
            }
        ], path


def test_the_grant_deny_leaves_every_allowed_action_but_direct_grants(statements):
    # The deny names one action: nothing a service or the account does otherwise with the
    # key (encrypt, decrypt, administer, list or revoke grants) is refused.
    deny = statements["DenyGrantsNotForAwsResources"]
    assert deny["Action"] == "kms:CreateGrant"
    assert set(deny["Condition"]) == {"Bool"}


def test_account_administers_the_key(statements):
    account = statements["AccountAdministersKeyThroughIam"]
    assert account["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }


def test_logs_service_may_use_the_key_for_this_accounts_log_groups(statements):
    logs = "logs.${AWS::Region}.amazonaws.com"
    (statement,) = [
        s for s in statements.values() if s["Principal"].get("Service") == {"Fn::Sub": logs}
    ]
    assert statement["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(statement["Action"])
    assert not [a for a in statement["Action"] if a in ("*", "kms:*") or "Delete" in a]
    assert statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
            }
        }
    }


def test_services_use_the_key_only_on_behalf_of_this_account(statements):
    for sid, statement in statements.items():
        if "Service" in statement["Principal"]:
            text = str(statement.get("Condition", {}))
            assert "AWS::AccountId" in text, f"{sid}: a service may use the key for anyone"
            assert not [a for a in statement["Action"] if a in ("*", "kms:*")], sid


def test_alias_names_the_key(template):
    _, alias = only(template, "AWS::KMS::Alias")
    assert alias["AliasName"] == "alias/storefront-production/data"
    assert alias["TargetKeyId"] == ref("DataKey")
