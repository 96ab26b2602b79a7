"""Puts the spec's standard tags on every resource type that CloudFormation can tag.

One mechanism for all builders, so no resource can be forgotten; a few AWS types spell
their tag property their own way, which is why the table below exists.
"""

from __future__ import annotations

from troposphere import AWSObject, Tags, autoscaling, route53

_OTHER_TAG_PROPERTIES = {
    route53.HealthCheck: "HealthCheckTags",
    route53.HostedZone: "HostedZoneTags",
}


def tag_property(resource: AWSObject) -> str | None:
    """The property that holds `resource`'s tags, or None if its type takes no tags."""
    for kind, prop in _OTHER_TAG_PROPERTIES.items():
        if isinstance(resource, kind):
            return prop
    return "Tags" if "Tags" in type(resource).props else None


def apply_tags(resource: AWSObject, tags: dict[str, str]) -> None:
    """Add `tags` to `resource`, keeping any tag a builder set itself."""
    prop = tag_property(resource)
    if prop is None:
        return
    existing = resource.properties.get(prop)
    if isinstance(resource, autoscaling.AutoScalingGroup):
        # Auto Scaling tags say whether instances inherit them; ours must.
        current = {t.data["Key"]: t for t in (existing or [])}  # autoscaling.Tag objects
        for key, value in tags.items():
            current.setdefault(key, autoscaling.Tag(key, value, True))
        resource.properties[prop] = list(current.values())
    elif type(resource).props[prop][0] is dict:  # e.g. AWS::SSM::Parameter takes a plain map
        resource.properties[prop] = {**tags, **(existing or {})}
    else:
        current = existing.to_dict() if isinstance(existing, Tags) else list(existing or [])
        own = {t["Key"] for t in current}
        merged = current + [{"Key": k, "Value": v} for k, v in tags.items() if k not in own]
        resource.properties[prop] = Tags(*[{t["Key"]: t["Value"]} for t in merged])
