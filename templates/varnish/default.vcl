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

# Who may ban cached objects (packages/control/src/cache_purge.ts): the control host's private
# address, with the purge token below. The token is the guard that matters: when control shares a
# host with an edge, that edge's nginx also connects from an address in this list.
acl dynoform_purgers {
{{purgerAcl}}
}

sub vcl_init {
    new routers = directors.round_robin();
{{directorAdds}}
}

sub vcl_recv {
    if (req.method == "BAN") {
        call dynoform_ban;
    }
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

# BAN from control after a release, or `dynoform cache:purge`: every object cached for the Host
# (one of the app's hostnames, its custom domains too), or only those of X-Dynoform-Purge-Path
# (a URL path; every query string of it). Bans test only obj.http.*, so Varnish's ban lurker
# removes the objects in the background instead of keeping every ban until the objects expire.
sub dynoform_ban {
    if (client.ip !~ dynoform_purgers || req.http.X-Dynoform-Purge-Token != "{{purgeToken}}") {
        return (synth(403, "Forbidden"));
    }
    set req.http.X-Dynoform-Purge-Host = std.tolower(regsub(req.http.Host, ":[0-9]+$", ""));
    if (req.http.X-Dynoform-Purge-Host !~ "^[a-z0-9][a-z0-9.-]*$") {
        return (synth(400, "Host must be a host name"));
    }
    if (!req.http.X-Dynoform-Purge-Path) {
        if (!std.ban("obj.http.X-Dynoform-Host == " + req.http.X-Dynoform-Purge-Host)) {
            return (synth(500, std.ban_error()));
        }
        return (synth(200, "Banned"));
    }
    # A path goes into the ban expression as one word: no spaces, quotes or backslashes.
    if (req.http.X-Dynoform-Purge-Path !~ {"^/[^\s"\\?]*$"}) {
        return (synth(400, "X-Dynoform-Purge-Path must be a URL path"));
    }
    if (!std.ban("obj.http.X-Dynoform-Host == " + req.http.X-Dynoform-Purge-Host +
                 " && obj.http.X-Dynoform-Path == " + req.http.X-Dynoform-Purge-Path)) {
        return (synth(500, std.ban_error()));
    }
    return (synth(200, "Banned"));
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
    # What a ban matches on (dynoform_ban), kept with every object, hit-for-miss ones included, so
    # a page that turns cacheable in a new release is not held back by an old uncacheable marker.
    set beresp.http.X-Dynoform-Host = std.tolower(regsub(bereq.http.Host, ":[0-9]+$", ""));
    set beresp.http.X-Dynoform-Path = regsub(bereq.url, "\?.*$", "");
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

sub vcl_deliver {
    # The ban's keys are Varnish's own: clients never see them.
    unset resp.http.X-Dynoform-Host;
    unset resp.http.X-Dynoform-Path;
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
