% rebase("verify_layout", title=f"Certificate {cert['certId']} · {cert['student']['name']}", description=f"{cert['student']['name']} completed {cert['course']['title']} with {org}: check certificate {cert['certId']} here.", url=cert["verifyUrl"], image=preview_url, org=org)
% status = cert["status"]
<section class="card">
  <h1>Certificate {{cert["certId"]}}</h1>
  <div class="status {{status}}" role="status">
% if status == "active":
    <svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#16a34a"/><path d="M6.5 12.5l3.5 3.5 7.5-8" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>
    <div><strong>Valid certificate</strong><p>Issued by {{org}} on {{issued_on}}, and not revoked.</p></div>
% elif status == "expired":
    <svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#6b7280"/><path d="M12 6.5V12l3.5 2.5" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>
    <div><strong>Expired: this certificate is no longer current</strong><p>Issued by {{org}} on {{issued_on}}, valid until {{expires_on}}.</p></div>
% elif status == "revoked":
    <svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#dc2626"/><path d="M8 8l8 8M16 8l-8 8" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/></svg>
    <div><strong>Revoked: this certificate is no longer valid</strong><p>Revoked on {{revoked_on}}.{{f" Reason: {cert['revokeReason']}" if cert.get("revokeReason") else ""}}</p></div>
% else:
    <svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="#d97706"/><path d="M12 6.5V12l3.5 2.5" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>
    <div><strong>Not issued yet</strong><p>This certificate was earned and is being prepared; it is not valid until this page says so.</p></div>
% end
  </div>
  <dl>
    <dt>Awarded to</dt><dd class="name">{{cert["student"]["name"]}}</dd>
    <dt>Course</dt><dd>{{cert["course"]["title"]}}</dd>
% if issued_on:
    <dt>Issued on</dt><dd><time datetime="{{cert['issuedAt']}}">{{issued_on}}</time></dd>
% end
% if expires_on:
    <dt>Valid until</dt><dd><time datetime="{{cert['expiresAt']}}">{{expires_on}}</time></dd>
% end
    <dt>Certificate ID</dt><dd class="mono">{{cert["certId"]}}</dd>
% if cert["hash"]:
    <dt>SHA-256 of the PDF</dt><dd class="mono">{{cert["hash"]}}</dd>
% end
  </dl>
% if pdf_url or linkedin:
  <p class="actions">
% if pdf_url:
% if status == "revoked":
    <a class="button" href="{{pdf_url}}">Download the PDF (stamped REVOKED)</a>
% else:
    <a class="button" href="{{pdf_url}}">Download the PDF</a>
% end
% end
% if linkedin:
    <a class="button linkedin" href="{{linkedin}}" target="_blank" rel="noopener noreferrer">Add to LinkedIn</a>
% end
  </p>
% end
% if linkedin:
  <p class="hint">Holder of this certificate? Add it to your LinkedIn profile: the link fills in its name,
    issuer, dates, ID and this page's address.</p>
% end
% if cert["hash"]:
  <p class="hint">A PDF you were sent is this certificate if its SHA-256 fingerprint
    (<span class="mono">sha256sum file.pdf</span>, or <span class="mono">Get-FileHash file.pdf</span> on Windows)
    is the one above.</p>
% end
</section>
% if preview_url:
<section class="preview card">
  <h2>The certificate</h2>
  <figure class="sheet {{status}}">
% if pdf_url:
    <a href="{{pdf_url}}"><img src="{{preview_url}}" alt="The certificate of {{cert['student']['name']}} for {{cert['course']['title']}}" width="1200" height="848"></a>
% else:
    <img src="{{preview_url}}" alt="The certificate of {{cert['student']['name']}} for {{cert['course']['title']}}" width="1200" height="848">
% end
% if status == "revoked":
    <figcaption class="overlay" aria-hidden="true">Revoked</figcaption>
% end
  </figure>
</section>
% end
