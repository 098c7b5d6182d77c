vcl 4.1;
# Managed by dynoform (templates/varnish/default.vcl): cache in front of the routing mesh.

import directors;
import std;

probe router_health {
    .request = "GET /health HTTP/1.1"
               "Host: dynoform-router-health"
               "Connection: close";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
}

{{backends}}

sub vcl_init {
    new routers = directors.round_robin();
{{directorAdds}}
}

sub vcl_recv {
    set req.backend_hint = routers.backend();

    # Who the client is: nginx on this host sets X-Forwarded-For to the address its client
    # connected from, and Varnish has appended its own peer (that nginx) before vcl_recv; the
    # routers keep what Varnish sends, so the dyno gets nginx's value alone. Varnish listens on the
    # private subnet: a peer other than this host's nginx (client.ip is server.ip when nginx
    # connects to the private address) cannot choose the forwarded headers or X-Request-Start.
    if (req.restarts == 0) {
        if (client.ip == server.ip) {
            set req.http.X-Forwarded-For = regsub(req.http.X-Forwarded-For, ",[^,]*$", "");
        } else {
            set req.http.X-Forwarded-For = client.ip;
            unset req.http.X-Forwarded-Proto;
            unset req.http.X-Forwarded-Port;
            unset req.http.X-Request-Start;
        }
    }

    # WebSockets and other upgrades are relayed raw to the router.
    if (req.http.Upgrade ~ "(?i)websocket") {
        return (pipe);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Personalised requests are never served from cache.
    if (req.http.Authorization || req.http.Cookie) {
        return (pass);
    }
    return (hash);
}

sub vcl_pipe {
    # Varnish sends "Connection: close" on every piped request so that a piped backend connection
    # is never used again; it stays. A WebSocket handshake also needs "Upgrade" to reach the
    # router: it gets "Upgrade, close", so an answer other than 101 ends the connection (the
    # router closes after it, and Varnish closes the client's connection when the pipe ends)
    # instead of leaving a tunnel to one app's dyno that carries whatever comes next.
    if (req.http.Upgrade ~ "(?i)websocket") {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = "Upgrade, close";
    }
}

sub vcl_backend_response {
    # Errors are never cached.
    if (beresp.status >= 400) {
        set beresp.ttl = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # Only what the app explicitly marks cacheable is cached (unlike Varnish's default TTL).
    if (!beresp.http.Cache-Control
        || beresp.http.Cache-Control ~ "(?i)(private|no-cache|no-store)"
        || beresp.http.Set-Cookie
        || beresp.http.Vary == "*") {
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    return (deliver);
}

sub vcl_backend_error {
    # A router that does not answer (its edge has just died, and the probe has not yet marked it
    # sick): a GET or HEAD, which the router never saw answered, goes once more, to the director's
    # next router. Other methods are not sent twice.
    if (bereq.retries == 0 && (bereq.method == "GET" || bereq.method == "HEAD")) {
        return (retry);
    }
    set beresp.http.Content-Type = "text/html; charset=utf-8";
    set beresp.http.Retry-After = "5";
    synthetic({"<!DOCTYPE html>
<html><head><title>Application Error</title></head>
<body><h1>Application Error</h1>
<p>The platform's routing mesh is not answering right now (Varnish "} + beresp.status + {" "} + beresp.reason + {").</p>
<p>XID: "} + bereq.xid + {"</p></body></html>
"});
    return (deliver);
}
