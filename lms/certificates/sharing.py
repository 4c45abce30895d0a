"""Putting a certificate on a profile elsewhere: LinkedIn's Add-to-Profile link."""
from dataclasses import dataclass
from urllib.parse import quote, urlencode

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"


@dataclass(frozen=True)
class Organisation:
    """Who issues the certificates: ``LMS_ORG_NAME`` and ``LMS_LINKEDIN_ORG_ID``."""
    name: str
    linkedin_id: str = ""

    @classmethod
    def from_settings(cls, settings):
        return cls(settings.org_name, settings.linkedin_org_id)


def linkedin_url(cert, verify_url, organisation):
    """LinkedIn's Add-to-Profile link, which fills in the "Licenses & certifications" form.

    The organisation is named by its numeric LinkedIn id when ``LMS_LINKEDIN_ORG_ID`` is set
    (LinkedIn then shows its logo and links the page), else by ``LMS_ORG_NAME``.
    """
    issued, expires = cert["issuedAt"], cert.get("expiresAt")
    params = {"startTask": "CERTIFICATION_NAME", "name": cert["courseTitle"]}
    if organisation.linkedin_id:
        params["organizationId"] = organisation.linkedin_id
    else:
        params["organizationName"] = organisation.name
    params.update(issueYear=issued.year, issueMonth=issued.month)
    if expires:
        params.update(expirationYear=expires.year, expirationMonth=expires.month)
    params.update(certUrl=verify_url, certId=cert["certId"])
    return f"{LINKEDIN_ADD}?{urlencode(params, quote_via=quote)}"
