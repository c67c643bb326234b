"use strict";
// Agent desk: search (F2), customer record, new work order (F4, Ctrl+Enter), KB (F8), screen pop by SSE.
(function () {
  var R = window.rexian, el = R.el;
  var $ = function (id) { return document.getElementById(id); };

  function showError(target, err) { target.textContent = err.message || String(err); target.className = "error"; }

  function renderCustomer(data) {
    var c = data.customer, body = $("customer-body");
    body.textContent = "";
    var h = el("h3", c.name + "（户号 " + c.account_no + "）"); h.id = "customer-name"; body.appendChild(h);
    var dl = el("dl"); dl.className = "fields";
    [["地址", c.address], ["电话", (c.phones || []).map(function (p) { return p.raw; }).join("、")],
     ["等级", c.grade_name], ["余额", (c.balance_fen / 100).toFixed(2) + " 元"], ["备注", c.notes]]
      .forEach(function (kv) { dl.appendChild(el("dt", kv[0])); dl.appendChild(el("dd", kv[1] || "")); });
    body.appendChild(dl);
    body.appendChild(el("h3", "未结工单"));
    var open = el("ul"); open.id = "open-orders";
    data.open_orders.forEach(function (o) {
      var li = el("li"), a = el("a", o.serial + " " + o.title + "（" + o.state_name + "）");
      a.href = "/orders/" + o.id; li.appendChild(a); open.appendChild(li);
    });
    if (!data.open_orders.length) { open.appendChild(el("li", "无")); }
    body.appendChild(open);
    body.appendChild(el("h3", "历史工单"));
    var hist = el("ul"); hist.id = "history";
    (data.history.tickets || []).slice(0, 10).forEach(function (t) {
      hist.appendChild(el("li", t.serial + " " + t.title + "（" + t.state_name + "）"));
    });
    body.appendChild(hist);
    body.appendChild(el("h3", "来电记录"));
    var calls = el("ul"); calls.id = "calls";
    (data.history.calls || []).slice(0, 10).forEach(function (k) {
      var parts = [k.at, k.direction === "out" ? "外呼" : "来电", k.disposition_name];
      if (k.agent) { parts.push("座席 " + k.agent); }
      if (k.talk_s) { parts.push("通话 " + Math.round(k.talk_s) + " 秒"); }
      if (k.transfers) { parts.push("转接 " + k.transfers); }
      if (k.survey !== null && k.survey !== undefined) { parts.push("评价 " + k.survey); }
      var li = el("li", parts.join(" · "));
      (k.recordings || []).forEach(function (rid) {
        if (data.can_listen) {
          var a = el("a", "录音"); a.href = "/recordings/" + rid + "/audio"; a.target = "_blank"; a.className = "rec";
          li.appendChild(document.createTextNode(" ")); li.appendChild(a);
        } else { li.appendChild(el("span", " （有录音）")); }
      });
      calls.appendChild(li);
    });
    (data.history.messages || []).slice(0, 5).forEach(function (m) {
      calls.appendChild(el("li", m.at + " · 留言（" + m.category_name + "，" + m.duration_s + " 秒）" + (m.handled ? " · 已处理" : "")));
    });
    if (!calls.childNodes.length) { calls.appendChild(el("li", "无")); }
    body.appendChild(calls);
    var edit = el("a", "编辑档案"); edit.href = "/customers/" + c.id + "/edit"; edit.target = "_blank";
    edit.id = "customer-edit"; body.appendChild(edit);
    $("wo-customer").value = c.id;
    if (!$("wo-address").value) { $("wo-address").value = c.address; }
  }

  function loadCustomer(id) {
    return R.get("/api/customers/" + id).then(renderCustomer)
      .catch(function (err) { showError($("customer-body"), err); });
  }

  function listCustomers(list, target) {
    target.textContent = "";
    list.forEach(function (c) {
      var li = el("li"), b = el("button", c.name + " · " + c.account_no + " · " + c.address);
      b.type = "button"; b.addEventListener("click", function () { loadCustomer(c.id); });
      li.appendChild(b); target.appendChild(li);
    });
    if (!list.length) { target.appendChild(el("li", "没有找到客户")); }
  }

  $("search-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = $("q").value.trim();
    if (!q) { return; }
    R.get("/api/customers?q=" + encodeURIComponent(q)).then(function (d) {
      listCustomers(d.customers, $("results"));
      var first = $("results").querySelector("button"); if (first) { first.focus(); }
    }).catch(function (err) { showError($("results"), err); });
  });

  $("wo-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, body = {};
    ["customer_id", "type", "caller_phone", "title", "description", "address", "team_id"].forEach(function (n) {
      body[n] = f.elements[n].value;
    });
    R.post("/api/orders", body).then(function (d) {
      var out = $("wo-result"); out.className = "ok"; out.textContent = "";
      var a = el("a", "已登记工单 " + d.order.serial + "（" + d.order.state_name + "）");
      a.href = "/orders/" + d.order.id; a.id = "wo-link"; out.appendChild(a);
      $("wo-title").value = ""; $("wo-description").value = "";
      var cid = $("wo-customer").value; if (cid) { loadCustomer(cid); }
    }).catch(function (err) { showError($("wo-result"), err); });
  });
  $("wo-form").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.ctrlKey) { ev.preventDefault(); $("wo-submit").click(); }
  });

  $("kb-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = $("kb-q").value.trim(); if (!q) { return; }
    R.get("/api/kb?q=" + encodeURIComponent(q)).then(function (d) {
      var t = $("kb-results"); t.textContent = "";
      d.articles.forEach(function (a) {
        var li = el("li"), b = el("button", a.title); b.type = "button";
        b.addEventListener("click", function () {
          var box = $("kb-article"); box.textContent = "";
          box.appendChild(el("h3", a.title)); box.appendChild(el("p", a.body));
        });
        li.appendChild(b); t.appendChild(li);
      });
      if (!d.articles.length) { t.appendChild(el("li", "没有找到文章")); }
    }).catch(function (err) { showError($("kb-results"), err); });
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "F2") { ev.preventDefault(); $("q").focus(); $("q").select(); }
    else if (ev.key === "F4") { ev.preventDefault(); $("wo-title").focus(); }
    else if (ev.key === "F8") { ev.preventDefault(); $("kb-q").focus(); }
  });

  // Screen pop: call.offered -> look the caller up -> show the record. The last pops are kept with
  // their times (performance.timeOrigin + now(): epoch ms) for diagnostics and bench/bench_web.py.
  var pops = window.rexianPops = [];
  function stamp(pop, key) {
    pop[key] = performance.timeOrigin + performance.now();
    if (key === "received") { pops.push(pop); if (pops.length > 100) { pops.shift(); } }
  }
  function offered(data, pop) {
    var caller = String(data.caller || "");
    var panel = $("incoming"), status = $("incoming-status");
    panel.className = "panel incoming ringing";
    status.textContent = "来电：" + (caller || "未知号码");
    $("wo-phone").value = caller;
    $("wo-customer").value = ""; $("wo-address").value = "";
    if (!caller) { return; }
    R.get("/api/customers/lookup?record=1&phone=" + encodeURIComponent(caller)).then(function (d) {
      stamp(pop, "found");
      if (d.customers.length === 1) {
        status.textContent = "来电：" + caller + " — " + d.customers[0].name;
        renderCustomer(d.record);
        stamp(pop, "shown");
        $("wo-title").focus();
      } else if (d.customers.length > 1) {
        status.textContent = "来电：" + caller + " — " + d.customers.length + " 个客户，请选择";
        listCustomers(d.customers, $("results"));
        stamp(pop, "shown");
      } else {
        status.textContent = "来电：" + caller + " — 未找到客户档案";
        var body = $("customer-body"), add = el("a", "新建客户档案");
        body.textContent = "未找到客户 ";
        add.href = "/customers/new?phone=" + encodeURIComponent(caller); add.target = "_blank"; add.id = "customer-new";
        body.appendChild(add);
        stamp(pop, "shown");
      }
    }).catch(function (err) { pop.error = err.message || String(err); status.textContent = "来电：" + caller + "（查询失败：" + pop.error + "）"; });
  }
  // The agent's own ACD state (示闲 / 示忙 / 话后整理); no ACD or no agent: the error says why.
  var me = null;
  function showAgent(a) {
    me = a;
    $("agent-state").textContent = a.state_name + (a.station !== null ? "（分机 " + a.station + "）" : "");
    $("agent-state").setAttribute("data-state", a.state);
    $("agent-reason").textContent = a.state === "not_ready" && a.reason ? a.reason : "";
    $("agent-error").textContent = "";
    var sel = $("agent-reason-code");
    if (!sel.options.length) {
      Object.keys(a.reasons).forEach(function (k) { var o = el("option", a.reasons[k]); o.value = k; sel.appendChild(o); });
    }
  }
  function agentCmd(path, body) {
    return R.post("/api/agent/" + path, body || {}).then(showAgent)
      .catch(function (err) { $("agent-error").textContent = err.message || String(err); });
  }
  R.get("/api/agent").then(showAgent).catch(function (err) { $("agent-error").textContent = err.message; });
  $("agent-login").addEventListener("submit", function (ev) {
    ev.preventDefault(); agentCmd("login", { station: $("agent-station").value });
  });
  $("agent-ready").addEventListener("click", function () { agentCmd("ready"); });
  $("agent-notready").addEventListener("click", function () { agentCmd("not_ready", { reason: $("agent-reason-code").value }); });
  $("agent-wrapup").addEventListener("click", function () { agentCmd("wrapup_end"); });
  $("agent-logout").addEventListener("click", function () { agentCmd("logout"); });

  var source = new EventSource("/api/events");
  source.addEventListener("call.offered", function (ev) {
    var pop = {}; stamp(pop, "received"); offered(JSON.parse(ev.data), pop);
  });
  source.addEventListener("acd.call.offered", function (ev) {
    var data = JSON.parse(ev.data), pop = { call: data.call_id };
    // an ACD offer pops on the desks of the agents it rings, not on every desk
    if (!me || (data.agents || []).indexOf(me.id) >= 0) { stamp(pop, "received"); offered(data, pop); }
  });
  source.addEventListener("acd.agent.state", function (ev) {
    var data = JSON.parse(ev.data);
    if (me && data.agent === me.id) { R.get("/api/agent").then(showAgent); }
  });
  // work orders near or past their time limit (crm/deadline.py): a line the agent can open
  function woAlert(text, cls) {
    return function (ev) {
      var d = JSON.parse(ev.data), li = el("li"), a = el("a", "工单 " + d.serial + " " + d.title);
      a.href = "/orders/" + d.id; a.target = "_blank";
      li.className = cls; li.appendChild(el("b", text + "：")); li.appendChild(a);
      var list = $("wo-alerts"); list.insertBefore(li, list.firstChild);
      while (list.childNodes.length > 5) { list.removeChild(list.lastChild); }
    };
  }
  source.addEventListener("ticket.reminder", woAlert("即将超时", "remind"));
  source.addEventListener("ticket.escalated", woAlert("已超时升级", "overdue"));
  source.addEventListener("open", function () { document.body.setAttribute("data-sse", "open"); });
})();
