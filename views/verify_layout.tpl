<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{title}}</title>
% if defined("description"):
<meta name="description" content="{{description}}">
<meta property="og:title" content="{{title}}">
<meta property="og:description" content="{{description}}">
<meta property="og:site_name" content="{{org}}">
% end
% if defined("url"):
<meta property="og:type" content="website">
<meta property="og:url" content="{{url}}">
% end
% if defined("image") and image:
<meta property="og:image" content="{{image}}">
<meta property="og:image:width" content="1200">
<meta property="og:image:height" content="848">
<meta name="twitter:card" content="summary_large_image">
% end
<link rel="icon" href="data:,">
<style>
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1f2937;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Devanagari",sans-serif}
header{background:#1f3352;color:#fff}
header div,main,footer{max-width:60rem;margin:0 auto;padding:0 1.25rem}
header div{display:flex;justify-content:space-between;align-items:center;height:3.5rem}
header a{color:#fff;text-decoration:none;font-weight:600;letter-spacing:.02em}
header span{color:#d9bf7a;font-size:.9rem}
main{padding-top:2rem;padding-bottom:2rem}
h1{font-size:1.5rem;margin:0 0 .75rem}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:.75rem;padding:1.5rem;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.status{display:flex;gap:1rem;align-items:center;border-radius:.6rem;padding:1rem 1.25rem;margin-bottom:1.5rem;border:1px solid}
.status svg{flex:none;width:2.5rem;height:2.5rem}
.status strong{display:block;font-size:1.25rem;line-height:1.3}
.status p{margin:.15rem 0 0}
.active{background:#f0fdf4;border-color:#86efac;color:#14532d}
.revoked{background:#fef2f2;border-color:#fca5a5;color:#7f1d1d}
.pending{background:#fffbeb;border-color:#fcd34d;color:#78350f}
.expired{background:#f3f4f6;border-color:#d1d5db;color:#374151}
dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.6rem 1.5rem;margin:0}
dt{color:#6b7280;font-size:.9rem;padding-top:.1rem}
dd{margin:0;font-weight:500;overflow-wrap:anywhere}
.name{font-size:1.35rem;font-weight:650}
.mono{font-family:ui-monospace,"Noto Sans Mono","DejaVu Sans Mono",monospace;font-weight:400;font-size:.92rem}
.actions{margin:1.5rem 0 0;display:flex;flex-wrap:wrap;gap:.75rem;align-items:center}
.button,button{display:inline-block;background:#1f3352;color:#fff;border:0;border-radius:.45rem;padding:.6rem 1.1rem;font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.linkedin{background:#0a66c2}
.hint{color:#6b7280;font-size:.875rem;margin:1rem 0 0}
.preview{margin-top:1.5rem}
.preview h2{font-size:1rem;color:#6b7280;font-weight:600;margin:0 0 .5rem}
.sheet{position:relative;margin:0}
.sheet img{display:block;width:100%;height:auto;border:1px solid #e5e7eb;border-radius:.5rem;background:#fff}
.sheet.revoked img{filter:grayscale(.6)}
.overlay{position:absolute;top:50%;left:50%;transform:translate(-50%,-50%) rotate(-20deg);padding:.2em .6em;border:.12em solid #dc2626;border-radius:.3em;color:#dc2626;background:rgba(255,255,255,.75);font-size:clamp(1.5rem,9vw,5rem);font-weight:800;letter-spacing:.1em;text-transform:uppercase}
form{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
label{width:100%;font-weight:600}
input{flex:1 1 16rem;font:inherit;font-family:ui-monospace,"Noto Sans Mono",monospace;text-transform:uppercase;padding:.55rem .75rem;border:1px solid #9ca3af;border-radius:.45rem}
.error{background:#fef2f2;border:1px solid #fca5a5;color:#7f1d1d;border-radius:.45rem;padding:.6rem .9rem}
footer{color:#6b7280;font-size:.85rem;padding-bottom:2rem}
@media (max-width:36rem){dl{grid-template-columns:1fr;gap:.1rem}dd{margin-bottom:.6rem}}
</style>
</head>
<body>
<header><div><a href="/verify">{{org}}</a><span>Certificate verification</span></div></header>
<main>
{{!base}}
</main>
<footer>This page is served by {{org}} from its own records; what it shows is the certificate's status right now.</footer>
</body>
</html>
