"use strict";
// Call control on the desk: hold, consult / transfer / conference, park, recording, click-to-dial,
// team leader listen / whisper / barge. State comes back from each command and from SSE events.
(function () {
  var R = window.rexian, el = R.el;
  var $ = function (id) { return document.getElementById(id); };
  var NAMES = { talking: "通话中", hold: "保持中", consult: "咨询中", conference: "三方通话",
                transferring: "转接中", parked: "已驻留", ended: "已结束" };

  function show(info) {
    var c = info.call || info, p = $("call-state");
    if (!c || !c.call_id) {
      p.textContent = "无通话"; p.setAttribute("data-state", "");
    } else {
      var text = (NAMES[c.state] || c.state || "振铃") + " " + (c.caller || "");
      if (c.third) { text += " ｜ 第三方 " + c.third; }
      if (c.leader) { text += " ｜ 班长 " + c.leader + "（" + c.monitor + "）"; }
      if (c.recording) { text += " ｜ ● 录音中"; }
      if (c.result) { text += " ｜ " + c.result; }
      p.textContent = text; p.setAttribute("data-state", c.state || "");
    }
    if (info.parked) {
      var ul = $("parked"); ul.textContent = "";
      info.parked.forEach(function (x) {
        var li = el("li"), b = el("button", "取回 驻留位" + x.slot + " " + x.caller);
        b.type = "button"; b.addEventListener("click", function () { cmd("retrieve", { slot: String(x.slot) }); });
        li.appendChild(b); ul.appendChild(li);
      });
    }
    $("call-error").textContent = "";
  }
  function refresh() { return R.get("/api/call").then(show).catch(function () {}); }
  function cmd(path, body) {
    return R.post("/api/call/" + path, body || {}).then(show).then(refresh)
      .catch(function (err) { $("call-error").textContent = err.message || String(err); });
  }
  function target() { return { target: $("call-target").value.trim() }; }
  [["call-hold", "hold"], ["call-unhold", "unhold"], ["call-hangup", "hangup"], ["call-park", "park"],
   ["call-conference", "conference"], ["call-complete", "complete_transfer"], ["call-cancel", "cancel_consult"]]
    .forEach(function (b) { $(b[0]).addEventListener("click", function () { cmd(b[1]); }); });
  $("call-record").addEventListener("click", function () { cmd("record", { on: "1" }); });
  $("call-record-stop").addEventListener("click", function () { cmd("record", { on: "0" }); });
  $("call-consult").addEventListener("click", function () { cmd("consult", target()); });
  $("call-transfer").addEventListener("click", function () { cmd("transfer", target()); });
  $("call-target-form").addEventListener("submit", function (ev) { ev.preventDefault(); cmd("consult", target()); });
  $("call-dial-form").addEventListener("submit", function (ev) {
    ev.preventDefault(); cmd("dial", { number: $("call-number").value.trim() });
  });
  $("call-forward-form").addEventListener("submit", function (ev) {
    ev.preventDefault(); cmd("forward", { number: $("call-forward").value.trim() });
  });
  $("call-monitor-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    R.post("/api/monitor", { agent: $("monitor-agent").value.trim(), mode: $("monitor-mode").value }).then(show)
      .catch(function (err) { $("call-error").textContent = err.message || String(err); });
  });
  $("monitor-stop").addEventListener("click", function () {
    R.post("/api/monitor/stop", { agent: $("monitor-agent").value.trim() }).then(show)
      .catch(function (err) { $("call-error").textContent = err.message || String(err); });
  });
  refresh();
  var source = new EventSource("/api/events");
  ["acd.call.control", "acd.call.connected", "acd.call.ended", "acd.call.recording", "acd.call.monitor",
   "acd.call.dial", "acd.agent.state"].forEach(function (name) { source.addEventListener(name, refresh); });
  source.addEventListener("open", refresh);        // events missed while the stream was (re)opening
  setInterval(refresh, 5000);                       // slow fallback if the stream is cut
})();
