<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{status}} · {{message}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;color:#1f2937;max-width:36rem;margin:15vh auto;padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .5rem}p{color:#6b7280}</style></head>
<body><h1>{{status}} · {{message}}</h1><p>Check the address and try again.</p></body>
</html>
