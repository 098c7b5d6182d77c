// The dashboard's one stylesheet and one script, served from its own origin (the pages' policy
// allows no inline script or style and nothing from elsewhere). Every page works without the
// script; it adds the live log view, in-place config reveal, chart refresh and confirmations.

export const STYLESHEET = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#f6f5fa}
header.top{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;background:#3f2a78;color:#fff}
header.top a{color:#fff;text-decoration:none;font-weight:600}
header.top .who{margin-left:auto;font-size:.9em}
header.top form{display:inline}
main{max-width:1100px;margin:0 auto;padding:1rem}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
h1{font-size:1.4em;margin:.2rem 0 1rem}h2{font-size:1.1em;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{font-weight:600;color:#555}
code,pre,.mono{font-family:ui-monospace,monospace;font-size:.92em}
pre.logs{background:#111;color:#ddd;padding:.6rem;height:18rem;overflow:auto;white-space:pre-wrap;word-break:break-all;margin:0}
.flash{padding:.6rem 1rem;border-radius:6px;margin:0 0 1rem;white-space:pre-wrap}
.flash.ok{background:#e8f5e9;border:1px solid #a5d6a7}.flash.error{background:#ffebee;border:1px solid #ef9a9a}
.muted{color:#777}.state-up{color:#2e7d32}.state-crashed,.state-down{color:#c62828}.state-starting{color:#ef6c00}
form.inline{display:inline}
input[type=text],input[type=password],input[type=number],textarea{padding:.3rem;border:1px solid #bbb;border-radius:4px;font:inherit}
input[type=number]{width:5rem}
button{padding:.3rem .7rem;border:1px solid #5e35b1;background:#5e35b1;color:#fff;border-radius:4px;cursor:pointer;font:inherit}
button.secondary{background:#fff;color:#5e35b1}button.danger{background:#fff;color:#c62828;border-color:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure.chart{margin:0}figure.chart figcaption{font-weight:600;margin-bottom:.2rem}
.legend{font-weight:400;font-size:.85em;margin-left:.5rem}.key{margin-right:.5rem}
.signin{max-width:28rem;margin:4rem auto}
.signin input{width:100%;margin:.3rem 0 .8rem}
`;

export const SCRIPT = `
"use strict";
(function () {
  // Live log view: the server streams the app's log lines as server-sent events.
  var logs = document.getElementById("log-lines");
  if (logs && window.EventSource) {
    var source = new EventSource(logs.getAttribute("data-stream"));
    var status = document.getElementById("log-status");
    source.onopen = function () { if (status) status.textContent = "live"; };
    source.onmessage = function (e) {
      var atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      logs.appendChild(document.createTextNode(e.data + "\\n"));
      while (logs.childNodes.length > 1000) logs.removeChild(logs.firstChild);
      if (atBottom) logs.scrollTop = logs.scrollHeight;
    };
    source.addEventListener("end", function (e) {
      source.close();
      if (status) status.textContent = e.data || "ended";
    });
    source.onerror = function () { if (status) status.textContent = "reconnecting"; };
  }
  // Reveal a config var's value in place (the link without the script shows it on a new page).
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-reveal]");
    if (!a) return;
    e.preventDefault();
    fetch(a.getAttribute("data-reveal"), { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(new Error(r.status));
    }).then(function (body) {
      var cell = document.getElementById(a.getAttribute("data-target"));
      cell.textContent = body.value;
      cell.classList.remove("muted");
      a.remove();
    }).catch(function () { window.location = a.href; });
  });
  // Ask before a change that cannot be taken back in one click.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  // Keep the charts current.
  var charts = document.getElementById("charts");
  if (charts && window.fetch) {
    setInterval(function () {
      fetch(charts.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : Promise.reject(new Error(r.status));
      }).then(function (markup) { charts.innerHTML = markup; }).catch(function () {});
    }, 15000);
  }
})();
`;

/** The tab's icon: Heroku's hexagon, in the top bar's colour. */
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2l12 7v14l-12 7-12-7V9z" fill="#3f2a78"/></svg>`;
