"use strict";
// Supervisor's wallboard: one snapshot, then the acd.* events of the SSE stream; times tick locally.
(function () {
  var R = window.rexian, el = R.el;
  var $ = function (id) { return document.getElementById(id); };
  var queues = {}, agents = {}, order = [], qorder = [], today = null, names = {}, reasons = {};
  var refreshTimer = null;

  function mmss(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : m) + ":" + two(r);
  }
  function showError(msg, ok) { var e = $("sv-error"); e.textContent = msg || ""; e.className = ok ? "ok" : "error"; }

  function load() {
    return R.get("/api/supervisor/board").then(function (d) {
      var now = Date.now();
      names = d.state_names; reasons = d.reasons;
      queues = {}; qorder = [];
      d.queues.forEach(function (q) { q.at = now; queues[q.name] = q; qorder.push(q.name); });
      agents = {}; order = [];
      d.agents.forEach(function (a) { a.since = now - a.state_for * 1000; a.monitorBy = a.monitor_by; agents[a.id] = a; order.push(a.id); });
      today = d.today;
      render();
      document.body.setAttribute("data-board", "loaded");
    }).catch(function (err) { showError(err.message); });
  }
  function loadToday() {
    R.get("/api/supervisor/today").then(function (d) { today = d; renderQueues(); })
      .catch(function (err) { showError(err.message); });
  }
  function soon() {                      // calls connect and end in bursts: one read of the CDR
    if (refreshTimer) { return; }
    refreshTimer = setTimeout(function () { refreshTimer = null; loadToday(); }, 800);
  }

  function todayOf(name) {
    var found = null;
    (today ? today.queues : []).forEach(function (t) { if (t.queue === name) { found = t; } });
    return found;
  }
  function sl(v) { return v === null || v === undefined ? "—" : v + "%"; }

  function renderQueues() {
    var body = $("sv-queues").tBodies[0], now = Date.now();
    body.textContent = "";
    qorder.forEach(function (name) {
      var q = queues[name], t = todayOf(name) || {}, tr = el("tr");
      tr.id = "queue-" + name;
      var wait = q.waiting ? q.longest_wait + (now - q.at) / 1000 : 0;
      var a = q.agents || {};
      [name + "（" + q.strategy_name + "）", String(q.waiting), q.waiting ? mmss(wait) : "—",
       (a.ready || 0) + " / " + ((a.talking || 0) + (a.offered || 0)) + " / " + (a.wrap_up || 0) + " / " + (a.not_ready || 0),
       String(t.offered || 0), String(t.answered || 0), String(t.abandoned || 0),
       sl(t.service_level) + "（" + (t.threshold_s || 20) + "秒内）"]
        .forEach(function (v, i) {
          var td = el("td", v);
          td.className = ["name", "waiting", "longest", "agents", "offered", "answered", "abandoned", "sl"][i];
          if (i === 1 && q.waiting > 0) { td.className += " alert"; }
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
    var foot = $("sv-queues").tFoot; foot.textContent = "";
    if (today) {
      var tr = el("tr"), tt = today.totals; tr.id = "queue-totals";
      ["合计", "", "", "", String(tt.offered), String(tt.answered), String(tt.abandoned), sl(tt.service_level)]
        .forEach(function (v) { tr.appendChild(el("td", v)); });
      foot.appendChild(tr);
      $("sv-date").textContent = "今日 " + today.date;
    }
  }

  function command(id, action, body) {
    return R.post("/api/supervisor/agents/" + encodeURIComponent(id) + "/" + action, body || {})
      .then(function (d) { showError(d.message, true); })
      .catch(function (err) { showError(err.message); });
  }

  var MONITOR = { listen: "监听", whisper: "密语", barge: "强插" };
  function monitor(id, mode) {
    return R.post("/api/monitor", { agent: id, mode: mode })
      .then(function () { showError("正在接通您的话机：" + MONITOR[mode] + "座席 " + id + "，请摘机", true); })
      .catch(function (err) { showError(err.message); });
  }

  function agentRow(a) {
    var tr = el("tr"), now = Date.now();
    tr.id = "agent-" + a.id;
    tr.setAttribute("data-state", a.state);
    var cells = [a.id, a.name, names[a.state] || a.state, a.state === "logged_out" ? "—" : mmss((now - a.since) / 1000),
                 a.state === "not_ready" ? a.reason : "", a.station === null ? "" : String(a.station),
                 String(a.calls || 0), (a.queues || []).join("、")];
    var classes = ["id", "name", "state", "time", "reason", "station", "calls", "queues"];
    cells.forEach(function (v, i) { var td = el("td", v || ""); td.className = classes[i]; tr.appendChild(td); });
    var td = el("td"); td.className = "ops";
    if (a.state !== "logged_out") {
      var ready = el("button", "示闲"); ready.type = "button"; ready.className = "force-ready";
      ready.addEventListener("click", function () { command(a.id, "ready"); });
      var sel = el("select"); sel.setAttribute("aria-label", "示忙原因");
      Object.keys(reasons).forEach(function (k) { var o = el("option", reasons[k]); o.value = k; sel.appendChild(o); });
      var nr = el("button", "示忙"); nr.type = "button"; nr.className = "force-notready";
      nr.addEventListener("click", function () { command(a.id, "not_ready", { reason: sel.value }); });
      var out = el("button", "签出"); out.type = "button"; out.className = "force-logout";
      out.addEventListener("click", function () {
        if (window.confirm("确定把座席 " + a.id + "（" + a.name + "）签出？")) { command(a.id, "logout"); }
      });
      [ready, sel, nr, out].forEach(function (n) { td.appendChild(n); });
    }
    if (a.state === "talking") {            // listen / whisper / barge: the leader's own phone rings
      var box = el("span"); box.className = "monitor";
      if (a.monitor) { var on = el("b", MONITOR[a.monitor] + "中（" + a.monitorBy + "）"); on.className = "monitoring"; box.appendChild(on); }
      Object.keys(MONITOR).forEach(function (mode) {
        if (a.monitor === mode) { return; }
        var b = el("button", MONITOR[mode]); b.type = "button"; b.className = "monitor-" + mode;
        b.addEventListener("click", function () { monitor(a.id, mode); });
        box.appendChild(b);
      });
      if (a.monitor) {
        var stop = el("button", "结束监听"); stop.type = "button"; stop.className = "monitor-stop";
        stop.addEventListener("click", function () {
          R.post("/api/monitor/stop", { agent: a.id })
            .then(function () { showError("已结束对座席 " + a.id + " 的监听", true); })
            .catch(function (err) { showError(err.message); });
        });
        box.appendChild(stop);
      }
      td.appendChild(box);
    }
    tr.appendChild(td);
    return tr;
  }
  function renderAgents() {
    var body = $("sv-agents").tBodies[0];
    body.textContent = "";
    order.forEach(function (id) { body.appendChild(agentRow(agents[id])); });
  }
  function render() { renderQueues(); renderAgents(); }

  function tick() {                       // times only: no request
    var now = Date.now();
    order.forEach(function (id) {
      var a = agents[id], row = $("agent-" + id);
      if (row && a.state !== "logged_out") { row.querySelector(".time").textContent = mmss((now - a.since) / 1000); }
    });
    qorder.forEach(function (name) {
      var q = queues[name], row = $("queue-" + name);
      if (row && q.waiting) { row.querySelector(".longest").textContent = mmss(q.longest_wait + (now - q.at) / 1000); }
    });
  }

  var source = new EventSource("/api/events"), opened = false;
  source.addEventListener("open", function () {
    document.body.setAttribute("data-sse", "open");
    if (opened) { load(); }               // reconnected: events may have been missed
    opened = true;
  });
  source.addEventListener("acd.queue.stats", function (ev) {
    var d = JSON.parse(ev.data), q = queues[d.queue];
    if (!q) { load(); return; }
    q.waiting = d.waiting; q.longest_wait = d.longest_wait; q.agents = d.agents; q.at = Date.now();
    renderQueues();
  });
  source.addEventListener("acd.agent.state", function (ev) {
    var d = JSON.parse(ev.data), a = agents[d.agent];
    if (!a) { load(); return; }
    a.state = d["new"]; a.reason = d.reason; a.station = d.station; a.since = Date.now();
    if (a.state !== "talking") { a.monitor = ""; }
    var row = $("agent-" + a.id);
    if (row) { row.parentNode.replaceChild(agentRow(a), row); }
  });
  source.addEventListener("acd.call.connected", function (ev) {
    var d = JSON.parse(ev.data), a = agents[d.agent];
    if (a) { a.calls = (a.calls || 0) + 1; var row = $("agent-" + a.id); if (row) { row.querySelector(".calls").textContent = String(a.calls); } }
    soon();
  });
  source.addEventListener("acd.call.monitor", function (ev) {
    var d = JSON.parse(ev.data), a = agents[d.agent];
    if (!a) { return; }
    a.monitor = d.mode; a.monitorBy = d.leader;
    var row = $("agent-" + a.id);
    if (row) { row.parentNode.replaceChild(agentRow(a), row); }
  });
  source.addEventListener("acd.call.ended", soon);
  source.addEventListener("acd.call.offered", soon);

  load();
  setInterval(tick, 1000);
  setInterval(load, 60000);               // slow fallback (FALLBACK_POLL_S)
})();
