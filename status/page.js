"use strict";
(function () {
  var root = document.documentElement;
  var main = document.getElementById("kinds");
  var live = document.getElementById("live");
  var at = document.getElementById("at");
  var points = {}; // component id -> [[unix ms, value], ...], oldest first
  var keep = 300 * 1000; // ms of history to draw; from the first document
  var updates = 0;
  var polling = null;

  function id(c) { return c.kind + "/" + c.name + "/" + (c.key || ""); }

  function fmt(v) {
    if (Math.abs(v) >= 1e15 || v === Math.trunc(v)) return String(v);
    return String(Math.round(v * 1000) / 1000);
  }

  function statsText(s) {
    if (!s || typeof s !== "object") return s == null ? "" : String(s);
    return Object.keys(s).map(function (k) {
      var v = s[k];
      return k + "=" + (typeof v === "object" ? JSON.stringify(v) : (typeof v === "number" ? fmt(v) : String(v)));
    }).join(" ");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function chart(pts, unit) {
    var ns = "http://www.w3.org/2000/svg", w = 120, h = 24;
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("role", "img");
    if (!pts || pts.length === 0) return svg;
    var top = /rate|ratio/.test(unit || "") ? 1 : 0;
    pts.forEach(function (p) { if (p[1] > top) top = p[1]; });
    if (top === 0) top = 1;
    var t1 = pts[pts.length - 1][0], t0 = t1 - keep;
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts.map(function (p) {
      var x = Math.max(0, (p[0] - t0) / keep) * (w - 2) + 1;
      var y = h - 1 - (p[1] / top) * (h - 2);
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
    var title = document.createElementNS(ns, "title");
    title.textContent = pts.length + " samples, max " + fmt(top);
    svg.appendChild(title);
    svg.appendChild(line);
    return svg;
  }

  function remember(doc) {
    var now = Date.parse(doc.time);
    if (doc.interval_seconds && doc.history) keep = Math.max(doc.history.times.length, 1) * doc.interval_seconds * 1000;
    if (doc.history) {
      points = {};
      var ts = doc.history.times;
      Object.keys(doc.history.series).forEach(function (k) {
        var s = doc.history.series[k], out = [];
        for (var i = 0; i < s.length; i++) if (s[i] !== null) out.push([ts[i], s[i]]);
        points[k] = out;
      });
    }
    var seen = {};
    doc.components.forEach(function (c) {
      var k = id(c), p = points[k] || (points[k] = []);
      seen[k] = true;
      if (p.length === 0 || p[p.length - 1][0] < now) p.push([now, c.value]);
      while (p.length && p[0][0] < now - keep) p.shift();
    });
    Object.keys(points).forEach(function (k) {
      var p = points[k];
      while (p.length && p[0][0] < now - keep) p.shift();
      if (!seen[k] && p.length === 0) delete points[k];
    });
  }

  function render(doc) {
    remember(doc);
    var groups = [], byKind = {};
    doc.components.forEach(function (c) {
      if (!byKind[c.kind]) { byKind[c.kind] = []; groups.push(c.kind); }
      byKind[c.kind].push(c);
    });
    var frag = document.createDocumentFragment();
    if (groups.length === 0) {
      var p = el("p", null, doc.registration ? "No components registered. Components built with a name list themselves here." : "Registration is off.");
      p.id = "empty";
      frag.appendChild(p);
    }
    groups.forEach(function (kind) {
      var sec = el("section"), table = el("table"), head = el("tr"), body = el("tbody");
      sec.dataset.kind = kind;
      sec.appendChild(el("h2", null, kind));
      ["name", "key", "state", "value", "last minutes", "stats"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      byKind[kind].forEach(function (c) {
        var tr = el("tr", "h-" + c.health);
        tr.dataset.id = id(c); tr.dataset.name = c.name; tr.dataset.key = c.key || "";
        tr.dataset.state = c.state; tr.dataset.health = c.health;
        tr.appendChild(el("td", null, c.name));
        tr.appendChild(el("td", null, c.key || ""));
        tr.appendChild(el("td", "state", c.state));
        tr.appendChild(el("td", "value", fmt(c.value) + (c.unit ? " " + c.unit : "")));
        var td = el("td", "chart"); td.appendChild(chart(points[id(c)], c.unit)); tr.appendChild(td);
        tr.appendChild(el("td", "stats", statsText(c.stats)));
        body.appendChild(tr);
      });
      table.appendChild(body); sec.appendChild(table); frag.appendChild(sec);
    });
    main.replaceChildren(frag);
    at.textContent = doc.time; at.dateTime = doc.time;
    updates++;
    root.dataset.updates = String(updates);
  }

  function setLive(mode) {
    root.dataset.live = mode;
    live.textContent = mode === "sse" ? "live" : mode === "poll" ? "live (polling)" : "not updating";
    live.className = mode === "off" ? "off" : "on";
  }

  function poll(first) {
    fetch(first ? "status.json?history=1" : "status.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (doc) {
        render(doc); setLive("poll");
        if (!polling) polling = setInterval(poll, Math.max(doc.interval_seconds, 0.5) * 1000);
      })
      .catch(function () { setLive("off"); if (!polling) polling = setInterval(poll, 5000); });
  }

  function stream() {
    if (!window.EventSource) { poll(true); return; }
    var es = new EventSource("events"), got = false;
    es.onmessage = function (e) {
      got = true;
      try { render(JSON.parse(e.data)); setLive("sse"); } catch (err) { setLive("off"); }
    };
    es.onerror = function () {
      // Never connected (a proxy that buffers, a server that cannot
      // stream): poll instead. Once connected, EventSource reconnects.
      if (!got || es.readyState === EventSource.CLOSED) { es.close(); poll(true); }
      else setLive("off");
    };
  }

  var rules = document.getElementById("faults-rules");
  if (rules) {
    var input = document.getElementById("faults-input"), msg = document.getElementById("faults-msg");
    var show = function () {
      fetch("faults", { cache: "no-store" }).then(function (r) { return r.text(); })
        .then(function (t) { rules.textContent = t; }, function (e) { rules.textContent = String(e); });
    };
    var send = function (method, body) {
      var init = { method: method };
      if (body != null) { init.body = body; init.headers = { "Content-Type": "application/json" }; }
      fetch("faults", init).then(function (r) {
        return r.text().then(function (t) { msg.textContent = r.status + " " + (r.ok ? "done" : t); });
      }, function (e) { msg.textContent = String(e); }).then(show);
    };
    document.getElementById("faults-apply").addEventListener("click", function () { send("POST", input.value); });
    document.getElementById("faults-clear").addEventListener("click", function () { send("DELETE", null); });
    show();
  }

  stream();
})();
