"""The site's public Route 53 hosted zone, created once by the global stack.

Without `dns.hosted_zone_id` the global stack creates the zone for `dns.zone_name` and
outputs its ID, which every regional stack takes as its `HostedZoneId` parameter (see
builders/dns.py), and its name servers, which the domain's registrar must be given.
With `dns.hosted_zone_id` the zone exists already and nothing is created here.
"""

from __future__ import annotations

from troposphere import Export, GetAtt, Join, Output, Ref, route53

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose
from compiler.builders.handles import PublicZoneHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

HOSTED_ZONE_ID = "HostedZone"
# The regional templates' parameter of the same name takes this output's value.
HOSTED_ZONE_OUTPUT = "HostedZoneId"
NAME_SERVERS_OUTPUT = "NameServers"


def build_public_zone(spec: InfraSpec, ctx: RegionContext) -> Built[PublicZoneHandle]:
    given = spec.dns.hosted_zone_id
    if given:
        return Built([], PublicZoneHandle(hosted_zone_id=given, created=False))

    zone = purpose(
        route53.HostedZone(
            HOSTED_ZONE_ID,
            Name=spec.dns.zone_name,
            HostedZoneConfig=route53.HostedZoneConfiguration(
                Comment=f"{naming.name_prefix(spec)}: public zone of {spec.dns.record_name}"
            ),
        ),
        f"Public hosted zone of {spec.dns.zone_name}; each region adds its record for "
        f"{spec.dns.record_name}",
    )
    # A new zone gets new name servers, and the registrar's delegation would point at the
    # old ones: the zone outlives the stack and is never replaced by an update.
    zone.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE
    zone.UpdateReplacePolicy = "Retain"
    outputs = [
        Output(
            HOSTED_ZONE_OUTPUT,
            Description=f"ID of the {spec.dns.zone_name} hosted zone (the regional stacks' "
            "HostedZoneId parameter)",
            Value=Ref(zone),
            Export=Export(naming.export_name(spec, HOSTED_ZONE_OUTPUT)),
        ),
        Output(
            NAME_SERVERS_OUTPUT,
            Description=f"Name servers to give the registrar of {spec.dns.zone_name}",
            Value=Join(",", GetAtt(zone, "NameServers")),
        ),
    ]
    return Built([zone], PublicZoneHandle(hosted_zone_id=Ref(zone), created=True), outputs)
