"use strict";
// Technician's phone page: his team's work orders change (new, re-dispatched, near or past the
// time limit); the server sends him only his team's ticket events. The page reloads itself
// unless he is typing a reply, then it says so and offers the reload.
(function () {
  var notice = document.getElementById("tech-notice");
  var WHAT = { "ticket.created": "新工单", "ticket.updated": "工单有变化", "ticket.reminder": "即将超时",
               "ticket.escalated": "已超时升级" };
  function typing() {
    var fields = document.querySelectorAll("textarea, input[name=note]");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }
  function show(topic) {
    return function (ev) {
      var d = JSON.parse(ev.data);
      notice.hidden = false;
      notice.textContent = WHAT[topic] + "：工单 " + d.serial + (d.title ? " " + d.title : "") + " ";
      notice.setAttribute("data-topic", topic);
      var again = document.createElement("button");
      again.type = "button"; again.textContent = "刷新";
      again.addEventListener("click", function () { window.location.reload(); });
      notice.appendChild(again);
      if (!typing()) { setTimeout(function () { if (!typing()) { window.location.reload(); } }, 3000); }
    };
  }
  var source = new EventSource("/api/events");
  Object.keys(WHAT).forEach(function (topic) { source.addEventListener(topic, show(topic)); });
  source.addEventListener("open", function () { document.body.setAttribute("data-sse", "open"); });
})();
