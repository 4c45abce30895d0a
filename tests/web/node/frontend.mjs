// A single-page app on its own host name, in a real browser, using only the documented mechanism
// (README "Connecting a frontend"): headless Chromium maps app.lms.test and api.lms.test to this
// machine, loads a page from app.lms.test and drives the API on api.lms.test from inside it.
//
//   node frontend.mjs <API base URL> <course id> <app port> <cookie|header>
// "cookie": the page reads the XSRF-TOKEN cookie (LMS_COOKIE_DOMAIN shares it with the app's host);
// "header": the page keeps the token the API sends in X-XSRF-TOKEN and csrfToken (any layout).
// prints one JSON object: what each step of the page saw.
import http from "node:http";
import { chromium } from "playwright-core";

const [api, courseId, appPort, source] = process.argv.slice(2);
const app = `http://app.lms.test:${appPort}`;

const page = `<!doctype html><meta charset="utf-8"><title>An app elsewhere</title>
<script>
const API = ${JSON.stringify(api)};
const FROM_COOKIE = ${JSON.stringify(source === "cookie")};
const cookie = (name) => document.cookie.split("; ").find((c) => c.startsWith(name + "="))?.slice(name.length + 1);
let csrf;
const token = () => FROM_COOKIE ? cookie("XSRF-TOKEN") : csrf;
async function call(method, path, body) {
  const response = await fetch(API + path, {
    method, credentials: "include",
    headers: {"Content-Type": "application/json", ...(method === "GET" ? {} : {"X-XSRF-TOKEN": token()})},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  csrf = response.headers.get("X-XSRF-TOKEN") || csrf;
  return {status: response.status, body: await response.json(), header: response.headers.get("X-XSRF-TOKEN")};
}
async function scenario(courseId) {
  const seen = {};
  const session = await call("GET", "/api/auth/session");
  csrf = session.body.csrfToken;
  seen.session = {status: session.status, user: session.body.user, hasToken: !!session.body.csrfToken};
  const email = "spa" + Date.now() + "@example.com";
  const signup = await call("POST", "/api/auth/signup", {name: "Priya Sharma", email, password: "a long passphrase 42"});
  seen.signup = {status: signup.status, cookieReadable: cookie("XSRF-TOKEN") === signup.body.csrfToken,
                 headerReadable: signup.header === signup.body.csrfToken};
  seen.enroll = (await call("POST", "/api/enroll", {courseId})).status;
  const stream = new EventSource(API + "/api/user/events", {withCredentials: true});
  const certificate = new Promise((resolve) => stream.addEventListener("notification", (event) => {
    const note = JSON.parse(event.data);
    if (note.kind === "certificate.issued") resolve({id: event.lastEventId, link: note.link});
  }));
  await new Promise((resolve) => stream.addEventListener("open", resolve));
  seen.lessons = [];
  for (const lessonId of ["intro", "setup"]) {
    seen.lessons.push((await call("POST", "/api/progress/complete-lesson", {courseId, moduleId: "m1", lessonId})).status);
  }
  seen.event = await Promise.race([certificate, new Promise((r) => setTimeout(() => r(null), 20000))]);
  stream.close();
  const refresh = await call("POST", "/api/auth/refresh");
  seen.refresh = {status: refresh.status, rotated: refresh.body.csrfToken !== undefined && refresh.header === refresh.body.csrfToken,
                  cookieFollows: cookie("XSRF-TOKEN") === refresh.body.csrfToken, headerFollows: csrf === refresh.body.csrfToken};
  seen.meAfterRefresh = (await call("GET", "/api/user/me")).status;
  seen.withoutHeader = (await fetch(API + "/api/enroll", {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({courseId})})).status;
  seen.logout = (await call("POST", "/api/auth/logout")).status;
  seen.meAfterLogout = (await call("GET", "/api/user/me")).status;
  return seen;
}
</script><p>ready</p>`;

const server = http.createServer((request, response) => {
  response.writeHead(200, {"Content-Type": "text/html; charset=utf-8"});
  response.end(page);
}).listen(Number(appPort), "127.0.0.1");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic",
         "--host-resolver-rules=MAP app.lms.test 127.0.0.1, MAP api.lms.test 127.0.0.1"],
});
try {
  const tab = await browser.newPage();
  const problems = [];
  tab.on("console", (message) => { if (message.type() === "error") problems.push(message.text()); });
  await tab.goto(`${app}/`);
  const seen = await tab.evaluate((id) => scenario(id), courseId);
  if (seen.event) {
    await tab.goto(seen.event.link);
    seen.verifyPage = await tab.textContent("body");
  }
  seen.consoleErrors = problems;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
  server.close();
}
