% rebase("verify_layout", title="Verify a certificate", org=org)
<section class="card">
  <h1>Verify a certificate</h1>
  <p>Enter the certificate ID printed at the bottom right of the certificate, for example
    <span class="mono">CERT-7K3M9QXH2P</span>, to see whether it is genuine and still valid.</p>
% if message:
  <p class="error" role="alert">{{message}}</p>
% end
  <form method="get" action="/verify">
    <label for="certId">Certificate ID</label>
    <input id="certId" name="certId" value="{{cert_id}}" maxlength="40" required autocomplete="off"
           spellcheck="false" autocapitalize="characters">
    <button type="submit">Verify</button>
  </form>
</section>
