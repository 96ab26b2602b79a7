"""The HTTPS listener's certificate: the spec's ACM ARN for the region, or one made here.

A region listed in `load_balancer.certificate_arns` uses that certificate and nothing is
created. For any other region the stack requests an ACM certificate for `dns.record_name`,
validated by DNS: CloudFormation writes the validation CNAME into the hosted zone itself
and waits until ACM has issued the certificate, so the listener never gets one that is
still pending.

When some regions give an ARN and others do not, one template still serves them all (the
StackSet template must): the certificate carries a condition that is true only in the
regions without an ARN, and the listener picks the created certificate or the region's
ARN with `Fn::If`.
"""

from __future__ import annotations

from troposphere import AWSHelperFn, Equals, If, Not, Or, Ref
from troposphere import certificatemanager as acm

from compiler.builders import Built, purpose
from compiler.builders.handles import CertificateHandle, HostedZoneHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

CERTIFICATE_ID = "Certificate"
CREATE_CERTIFICATE_CONDITION = "CreateCertificate"
# Fn::Or takes two to ten conditions.
_MAX_OR_CONDITIONS = 10


def region_is_one_of(regions: list[str]) -> AWSHelperFn:
    """A condition that holds when the stack's region is one of `regions` (at most ten).

    It names the regions rather than testing a region value from the Mappings: a per-region
    template gets no Mappings, and `Fn::Equals` on two literals (what a mapping lookup turns
    into there) is flagged by cfn-lint (W8003, always true or always false). `AWS::Region`
    stays a reference in both kinds of template, so they keep the same Conditions section.
    """
    tests = [Equals(Ref("AWS::Region"), region) for region in regions]
    return tests[0] if len(tests) == 1 else Or(*tests)


def certificate_condition(creating: list[str], given: list[str]) -> AWSHelperFn:
    """True in the regions that create their certificate, false in those given an ARN."""
    # A spec has at most 16 regions, so one of the two lists fits an Fn::Or.
    if len(creating) <= _MAX_OR_CONDITIONS:
        return region_is_one_of(creating)
    return Not(region_is_one_of(given))


def build_certificate(
    spec: InfraSpec, ctx: RegionContext, zone: HostedZoneHandle
) -> Built[CertificateHandle]:
    arns = spec.load_balancer.certificate_arns
    regions = [region.name for region in spec.regions]
    creating = [name for name in regions if name not in arns]
    given = [name for name in regions if name in arns]
    if not creating:
        return Built([], CertificateHandle(certificate_arn=ctx.certificate_arn()))

    certificate = purpose(
        acm.Certificate(
            CERTIFICATE_ID,
            DomainName=spec.dns.record_name,
            ValidationMethod="DNS",
            # The hosted zone lets CloudFormation create the validation record. ACM uses
            # the same record for this name in every region of the account, so the
            # regions' certificates share it.
            DomainValidationOptions=[
                acm.DomainValidationOption(
                    DomainName=spec.dns.record_name, HostedZoneId=zone.hosted_zone_id
                )
            ],
            CertificateTransparencyLoggingPreference="ENABLED",
        ),
        f"TLS certificate for {spec.dns.record_name} on this region's HTTPS listener "
        "(no ARN in load_balancer.certificate_arns for the region)",
    )
    if not given:
        return Built([certificate], CertificateHandle(certificate_arn=Ref(certificate)))

    certificate.Condition = CREATE_CERTIFICATE_CONDITION
    handle = CertificateHandle(
        certificate_arn=If(CREATE_CERTIFICATE_CONDITION, Ref(certificate), ctx.certificate_arn())
    )
    return Built(
        [certificate],
        handle,
        conditions={CREATE_CERTIFICATE_CONDITION: certificate_condition(creating, given)},
    )
