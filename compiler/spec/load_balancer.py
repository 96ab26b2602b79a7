"""Spec model for the internet-facing Application Load Balancer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, UrlPath, empty_dict, pattern_str

CertificateArn = pattern_str(
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
    "use an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>",
)


class LoadBalancerSpec(BaseModel):
    """HTTP redirects to HTTPS; HTTPS forwards to the instances."""

    model_config = SPEC_MODEL_CONFIG

    health_check_path: UrlPath = Field(
        "/health", description="Target group health check path.", examples=["/health"]
    )
    ssl_policy: pattern_str(
        r"^ELBSecurityPolicy-TLS(13)?-1-[23]-.+$",
        "use an ELB TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06",
    ) = Field(
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="HTTPS listener policy; only TLS 1.2+ policies are accepted.",
        examples=["ELBSecurityPolicy-TLS13-1-2-2021-06"],
    )
    certificate_arns: dict[str, CertificateArn] = Field(
        default_factory=empty_dict,
        description="ACM certificate ARN for the HTTPS listener, per region; ACM "
        "certificates are regional, so each ARN must name its own region. A region left "
        "out gets a certificate for `dns.record_name`, validated by DNS in the hosted zone.",
        examples=[{"us-east-1": "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234"}],
    )
