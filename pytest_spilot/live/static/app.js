/* spilot's page: a release's validations live (Server-Sent Events), their history and a
 * comparison of two releases. With <script id="spilot-report"> it renders that report's data
 * and touches no network. Every string reaches the DOM as text, never as markup. */
(function () {
  "use strict";

  var STATUSES = ["failed", "running", "waiting", "queued", "warning", "passed", "skipped"];
  var VERDICT_ORDER = ["regressed", "worse", "better", "new", "gone", "no direction", "same"];
  var MAX_LOG_LINES = 5000;
  var MAX_CHARTS = 120;

  var embedded = document.getElementById("spilot-report");
  var report = embedded ? JSON.parse(embedded.textContent) : null;

  var state = {
    version: null,
    releases: [],
    releasesText: null,
    rows: new Map(), // key -> row, in the order first seen
    trs: new Map(), // key -> <tr>
    selected: null,
    filterStatus: null,
    filterText: "",
    stream: null,
    logStream: null,
    history: null,
    historyText: null,
    compare: null,
    charts: [],
    tab: "release",
  };
  window.spilotApplied = window.spilotApplied || [];

  // ---- small DOM helpers: text only ----
  function $(id) { return document.getElementById(id); }

  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (name) {
        var value = props[name];
        if (value === undefined || value === null) return;
        if (name === "text") node.textContent = String(value);
        else if (name === "class") node.className = value;
        else if (name === "data") Object.keys(value).forEach(function (k) { node.dataset[k] = String(value[k]); });
        else if (name === "on") Object.keys(value).forEach(function (k) { node.addEventListener(k, value[k]); });
        else node.setAttribute(name, String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }

  function fmt(value) {
    if (value === null || value === undefined) return "n/a";
    if (Number.isInteger(value)) return String(value);
    var abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e7)) return value.toExponential(3);
    return String(Number(value.toPrecision(6)));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return (seconds < 10 ? seconds.toFixed(1) : s) + "s";
    var m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h === 0) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    return h + "h " + String(m % 60).padStart(2, "0") + "m";
  }

  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function api(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(path + ": HTTP " + r.status);
        return r.json();
      });
  }

  function enc(s) { return encodeURIComponent(s); }

  // ---- the release table ----
  function where(row) {
    var parts = [];
    if (row.worker) parts.push(row.worker);
    if (row.location) parts.push(row.location);
    if (row.node && row.node !== row.location) parts.push(row.node);
    if (row.job_id) parts.push("job " + row.job_id);
    if (row.host && parts.length === 0) parts.push(row.host);
    return parts.join(" · ");
  }

  function badge(status) {
    return el("span", { class: "badge s-" + status, text: status });
  }

  function elapsedOf(row) {
    if (report === null && row.status === "running") {
      if (row.elapsed_s !== null && row.elapsed_s !== undefined && row._recv !== undefined) {
        return row.elapsed_s + (performance.now() - row._recv) / 1000;
      }
      if (row.started) return (Date.now() - Date.parse(row.started)) / 1000;
    }
    return row.elapsed_s;
  }

  function progressCell(row) {
    var p = row.progress;
    var td = el("td", { class: "progress" });
    if (!p) return td;
    var label = p.step_index + "/" + p.step_count + (p.stage ? " " + p.stage : "");
    if (p.step_id) label += " · " + p.step_id;
    append(td, el("div", { text: label, title: p.message || null }));
    var max = Math.max(p.step_count, 1);
    append(td, el("progress", {
      max: max, value: Math.min(p.step_index, max),
      data: { key: row.key }, title: (p.percent || 0).toFixed(0) + "%",
    }));
    return td;
  }

  function metricsCell(row) {
    var names = Object.keys(row.metrics || {});
    var text = names.slice(0, 3).map(function (k) { return k + "=" + fmt(row.metrics[k]); }).join(", ");
    if (names.length > 3) text += " +" + (names.length - 3);
    var all = names.map(function (k) { return k + " = " + fmt(row.metrics[k]); }).join("\n");
    return el("td", { class: "metrics", text: text, title: all || null });
  }

  function thresholdLabel(t) {
    return t.metric + " " + t.op + " " + fmt(t.expected);
  }

  function verdictsCell(row) {
    var td = el("td", { class: "verdicts" });
    (row.thresholds || []).forEach(function (t) {
      append(td, el("span", {
        class: "pill v-" + t.outcome, text: thresholdLabel(t),
        title: t.outcome + ": " + fmt(t.value) + " " + t.op + " " + fmt(t.expected) + (t.message ? "\n" + t.message : ""),
      }));
    });
    if (row.regressions) {
      var r = row.regressions;
      append(td, el("span", {
        class: "pill v-" + r.outcome,
        text: r.outcome !== "failed" ? "no regression" : r.regressed.length ? "regressed: " + r.regressed.join(", ") : "regressions failed",
        title: r.message || null,
      }));
    }
    return td;
  }

  function buildRow(row) {
    var status = el("td", null, badge(row.status));
    if (row.status === "waiting" && row.waiting_for) {
      append(status, el("span", { class: "waiting-for", text: row.waiting_for }));
    }
    var name = el("td", { class: "name", title: row.id },
      row.gate ? el("span", { class: "pill", text: "gate" }) : null, row.id,
      el("small", { text: row.file + (row.kind ? " · " + row.kind : "") }));
    var tr = el("tr", { data: { key: row.key, status: row.status } },
      status, name,
      el("td", { class: "where", text: where(row) }),
      el("td", { class: "elapsed num", text: duration(elapsedOf(row)) }),
      progressCell(row), metricsCell(row), verdictsCell(row));
    if (row.key === state.selected) tr.classList.add("selected");
    tr.hidden = !visible(row);
    tr.tabIndex = 0;
    tr.addEventListener("click", function () { select(row.key); });
    tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(row.key); });
    return tr;
  }

  function visible(row) {
    if (state.filterStatus && row.status !== state.filterStatus) return false;
    if (!state.filterText) return true;
    var hay = (row.id + " " + row.file + " " + row.kind + " " + where(row)).toLowerCase();
    return hay.indexOf(state.filterText) >= 0;
  }

  function putRow(row) {
    row._recv = performance.now();
    state.rows.set(row.key, row);
    var tr = buildRow(row);
    var old = state.trs.get(row.key);
    if (old) old.replaceWith(tr);
    else document.querySelector("#rows tbody").appendChild(tr);
    state.trs.set(row.key, tr);
  }

  function renderCounts(summary) {
    var counts = summary.counts || {};
    var box = $("counts");
    var chips = STATUSES.filter(function (s) { return counts[s]; }).map(function (s) {
      var chip = el("button", {
        type: "button", class: "count" + (state.filterStatus === s ? " active" : ""),
        data: { status: s, count: counts[s] }, title: "show only " + s,
        on: { click: function () { filterStatus(s); } },
      }, badge(s), el("b", { text: counts[s] }));
      return chip;
    });
    var total = 0;
    Object.keys(counts).forEach(function (k) { total += counts[k]; });
    box.replaceChildren.apply(box, chips.concat([el("span", { class: "muted", text: total + " validations" })]));
    var live = $("live-state");
    var option = Array.prototype.find.call($("release-picker").options, function (o) { return o.value === summary.version; });
    if (option) option.textContent = summary.version + (summary.running ? " (running)" : "");
    document.title = "spilot · " + summary.version + (summary.running ? " (running)" : "");
    if (report === null) {
      live.dataset.running = summary.running ? "1" : "0";
      if (!summary.running && live.classList.contains("on")) live.textContent = "finished";
    }
  }

  function renderGates(gates) {
    var box = $("gates");
    var chips = Object.keys(gates || {}).map(function (g) {
      return el("span", { class: "pill v-" + gates[g], text: "gate " + g + ": " + gates[g] });
    });
    box.replaceChildren.apply(box, chips);
  }

  function renderWarnings(warnings) {
    var box = $("warnings");
    box.hidden = !warnings || warnings.length === 0;
    if (box.hidden) return;
    box.querySelector("summary").textContent = warnings.length + " warning(s) reading the release";
    var ul = box.querySelector("ul");
    ul.replaceChildren.apply(ul, warnings.map(function (w) { return el("li", { text: w }); }));
  }

  function applyRelease(view) {
    state.rows = new Map();
    state.trs = new Map();
    document.querySelector("#rows tbody").replaceChildren();
    view.rows.forEach(putRow);
    renderCounts(view.summary);
    renderGates(view.gates);
    renderWarnings(view.warnings);
    $("empty").hidden = view.rows.length > 0;
    if (state.selected && !state.rows.has(state.selected)) closeDetail();
    else if (state.selected) renderDetail(state.rows.get(state.selected), true);
    document.body.dataset.release = view.summary.version;
  }

  function applyRows(msg) {
    msg.rows.forEach(putRow);
    renderCounts(msg.summary);
    $("empty").hidden = state.rows.size > 0;
    if (state.selected && msg.rows.some(function (r) { return r.key === state.selected; })) {
      renderDetail(state.rows.get(state.selected), false);
    }
  }

  function filterStatus(status) {
    state.filterStatus = state.filterStatus === status ? null : status;
    refilter();
    document.querySelectorAll("#counts .count").forEach(function (c) {
      c.classList.toggle("active", c.dataset.status === state.filterStatus);
    });
  }

  function refilter() {
    state.rows.forEach(function (row, key) { state.trs.get(key).hidden = !visible(row); });
  }

  // Elapsed time of running rows ticks here, between the server's messages.
  function tick() {
    state.rows.forEach(function (row, key) {
      if (row.status !== "running") return;
      var cell = state.trs.get(key).querySelector("td.elapsed");
      if (cell) cell.textContent = duration(elapsedOf(row));
    });
  }

  // ---- the detail panel ----
  function select(key) {
    if (state.selected === key) return;
    var before = state.trs.get(state.selected);
    if (before) before.classList.remove("selected");
    state.selected = key;
    var tr = state.trs.get(key);
    if (tr) tr.classList.add("selected");
    document.body.dataset.selected = key;
    renderDetail(state.rows.get(key), true);
  }

  function closeDetail() {
    closeLog();
    var tr = state.trs.get(state.selected);
    if (tr) tr.classList.remove("selected");
    state.selected = null;
    delete document.body.dataset.selected;
    $("detail").hidden = true;
  }

  function dl(pairs) {
    var list = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      append(list, [el("dt", { text: p[0] }), el("dd", null, p[1])]);
    });
    return list;
  }

  function thresholdsTable(thresholds) {
    return el("table", { class: "small thresholds" },
      el("thead", null, el("tr", null, ["threshold", "value", "rule", "verdict", "message"].map(function (h) { return el("th", { text: h }); }))),
      el("tbody", null, thresholds.map(function (t) {
        return el("tr", { data: { outcome: t.outcome } },
          el("td", { text: t.id }), el("td", { class: "num", text: fmt(t.value) }),
          el("td", { text: t.op + " " + fmt(t.expected) + (t.tolerance ? " ±" + fmt(t.tolerance) : "") }),
          el("td", null, el("span", { class: "pill v-" + t.outcome, text: t.outcome })),
          el("td", { text: t.message }));
      })));
  }

  function evidenceBlock(gate) {
    return el("div", { class: "evidence-gate", data: { gate: gate.gate } },
      el("div", null, el("b", { text: gate.gate }), " " + gate.target + " vs " + gate.reference + " ",
        el("span", { class: "pill v-" + gate.status, text: gate.status }),
        gate.rollback && gate.rollback.required ? el("span", { class: "pill v-failed", text: "rollback required" }) : null),
      el("table", { class: "small evidence" },
        el("thead", null, el("tr", null, ["claim", "verdict", "code", "detail"].map(function (h) { return el("th", { text: h }); }))),
        el("tbody", null, gate.claims.map(function (c) {
          return el("tr", { data: { verdict: c.verdict } },
            el("td", { text: c.claim }),
            el("td", null, el("span", { class: "pill v-" + c.verdict, text: c.verdict + (c.blocking ? "" : " (not blocking)") })),
            el("td", { text: c.code }), el("td", { text: c.detail }));
        }))));
  }

  function copyButton(text) {
    return el("button", {
      type: "button", class: "copy", text: "copy",
      on: {
        click: function (ev) {
          var button = ev.currentTarget;
          var done = function () { button.textContent = "copied"; };
          if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(text).then(done, function () { selectText(button.previousSibling); });
          } else {
            selectText(button.previousSibling);
          }
        },
      },
    });
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* selected: the user copies it */ }
  }

  function renderDetail(row, fresh) {
    var panel = $("detail");
    panel.hidden = false;
    panel.dataset.key = row.key;
    panel.dataset.status = row.status;
    $("detail-title").replaceChildren(badge(row.status), " " + row.id);
    var info = [];
    if (row.message) info.push(el("div", { class: "message", text: row.message }));
    var progress = row.progress ? row.progress.step_index + "/" + row.progress.step_count + " " + (row.progress.stage || "") + (row.progress.step_id ? " · " + row.progress.step_id : "") : "";
    info.push(dl([
      ["file", row.file], ["kind", row.kind], ["waiting for", row.status === "waiting" ? row.waiting_for : ""],
      ["where", where(row)], ["host", row.host], ["started", when(row.started)],
      ["finished", when(row.finished)], ["elapsed", duration(elapsedOf(row))], ["step", progress],
      ["params", Object.keys(row.params || {}).length ? JSON.stringify(row.params) : ""],
    ]));
    if (row.rerun) {
      info.push(el("h3", { text: "re-run" }));
      info.push(el("div", { class: "rerun" }, el("code", { text: row.rerun }), copyButton(row.rerun)));
    }
    var metrics = Object.keys(row.metrics || {});
    if (metrics.length) {
      info.push(el("h3", { text: "metrics" }));
      info.push(el("table", { class: "small metrics" }, el("tbody", null, metrics.map(function (k) {
        return el("tr", null, el("td", { text: k }), el("td", { class: "num", text: fmt(row.metrics[k]) }));
      }))));
    }
    if (row.thresholds && row.thresholds.length) {
      info.push(el("h3", { text: "thresholds" }));
      info.push(thresholdsTable(row.thresholds));
    }
    if (row.regressions) {
      var r = row.regressions;
      info.push(el("h3", { text: "regressions" }));
      info.push(el("div", { class: "regressions" },
        el("span", { class: "pill v-" + r.outcome, text: r.outcome }), " " + (r.message || ""),
        r.changes.length ? el("pre", { class: "changes", text: r.changes.join("\n") }) : null));
    }
    if (row.evidence && row.evidence.length) {
      info.push(el("h3", { text: "evidence matrix" }));
      row.evidence.forEach(function (g) { info.push(evidenceBlock(g)); });
    }
    $("detail-info").replaceChildren.apply($("detail-info"), info);
    if (fresh) openLog(row);
  }

  function setLog(lines) {
    var pre = $("detail-log");
    pre.textContent = lines.length ? lines.join("\n") + "\n" : "";
    pre.scrollTop = pre.scrollHeight;
  }

  function addLog(lines) {
    var pre = $("detail-log");
    var atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30;
    pre.appendChild(document.createTextNode(lines.join("\n") + "\n"));
    // Keep the page light on a long log: drop the oldest text nodes past the limit.
    while (pre.childNodes.length > MAX_LOG_LINES / 10 && pre.firstChild) pre.removeChild(pre.firstChild);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  function closeLog() {
    if (state.logStream) {
      state.logStream.close();
      state.logStream = null;
    }
  }

  function openLog(row) {
    closeLog();
    var title = $("log-title");
    if (report !== null || !row.log) {
      title.textContent = row.log_tail && row.log_tail.length ? "log tail" : "log";
      setLog(row.log_tail || []);
      return;
    }
    title.textContent = "log (live)";
    setLog(row.log_tail || []);
    var first = true;
    var source = new EventSource("/api/releases/" + enc(state.version) + "/log/" + enc(row.key) + "/stream");
    state.logStream = source;
    source.onmessage = function (ev) {
      if (state.logStream !== source) return;
      var msg = JSON.parse(ev.data);
      if (msg.type !== "log" || msg.key !== row.key) return;
      if (first) setLog(msg.lines);
      else addLog(msg.lines);
      first = false;
      document.body.dataset.logLines = String(Number(document.body.dataset.logLines || 0) + msg.lines.length);
    };
    source.onerror = function () { first = true; }; // a reconnect sends the tail again
  }

  // ---- live mode: the release stream ----
  function setLive(text, on) {
    var live = $("live-state");
    live.textContent = text;
    live.classList.toggle("on", on === true);
    live.classList.toggle("off", on === false);
  }

  function openRelease(version) {
    if (state.stream) state.stream.close();
    closeDetail();
    state.version = version;
    if (location.hash !== "#" + enc(version)) history.replaceState(null, "", "#" + enc(version));
    setLive("connecting…", null);
    var source = new EventSource("/api/releases/" + enc(version) + "/stream");
    state.stream = source;
    source.onopen = function () { setLive("live", true); };
    source.onerror = function () { if (state.stream === source) setLive("reconnecting…", false); };
    source.onmessage = function (ev) {
      if (state.stream !== source) return;
      var msg = JSON.parse(ev.data);
      var t0 = performance.now();
      if (msg.type === "release") {
        applyRelease(msg);
        window.spilotApplied.push({ seq: null, type: "release", at: Date.now(), cost_ms: performance.now() - t0 });
        setLive(msg.summary.running ? "live" : "finished", true);
      } else if (msg.type === "rows") {
        applyRows(msg);
        document.body.dataset.seq = String(msg.seq);
        window.spilotApplied.push({ seq: msg.seq, at: Date.now(), cost_ms: performance.now() - t0 });
        if (!msg.summary.running) setLive("finished", true);
      }
    };
  }

  function loadReleases(keep) {
    return api("/api/releases").then(function (list) {
      var text = JSON.stringify(list);
      if (keep && text === state.releasesText) return list; // an open list is left alone
      state.releasesText = text;
      state.releases = list;
      var picker = $("release-picker");
      var current = keep ? picker.value : null;
      picker.replaceChildren.apply(picker, list.map(function (s) {
        return el("option", { value: s.version, text: s.version + (s.running ? " (running)" : "") });
      }));
      if (current && list.some(function (s) { return s.version === current; })) picker.value = current;
      fillCompareSelects(list.map(function (s) { return s.version; }));
      return list;
    });
  }

  function startLive() {
    var picker = $("release-picker");
    picker.addEventListener("change", function () { openRelease(picker.value); });
    // A new release appears when the user looks for it: the list is fetched on opening it.
    picker.addEventListener("focus", function () { loadReleases(true).catch(showError); });
    var wanted = decodeURIComponent(location.hash.slice(1));
    // A run's URL is printed before its first journal line: until the release it names (or
    // any release) exists, look again each second; afterwards everything is pushed.
    function choose() {
      loadReleases(false).then(function (list) {
        var named = list.find(function (s) { return s.version === wanted; });
        if ((wanted && !named) || !list.length) {
          setLive(wanted ? "waiting for release " + wanted + "…" : "no release in the folder yet", false);
          $("empty").hidden = list.length > 0;
          setTimeout(choose, 1000);
          return;
        }
        $("empty").hidden = true;
        var chosen = named || list.find(function (s) { return s.running; }) || list[0];
        picker.value = chosen.version;
        openRelease(chosen.version);
      }).catch(showError);
    }
    choose();
    setInterval(tick, 1000);
  }

  function showError(err) {
    setLive(String(err && err.message ? err.message : err), false);
  }

  // ---- history ----
  function seriesTitle(s) {
    return s.key + " · " + s.metric;
  }

  function destroyCharts() {
    state.charts.forEach(function (c) { c.destroy(); });
    state.charts = [];
  }

  function renderHistory(view) {
    state.history = view;
    destroyCharts();
    var box = $("charts");
    box.replaceChildren();
    var words = $("chart-filter").value.trim().toLowerCase();
    var shown = view.series.filter(function (s) { return !words || seriesTitle(s).toLowerCase().indexOf(words) >= 0; });
    var note = view.versions.length + " releases, " + view.series.length + " metric series";
    if (words) note += "; " + shown.length + " match the filter";
    if (shown.length > MAX_CHARTS) note += "; showing " + MAX_CHARTS + " of " + shown.length + " (filter to narrow)";
    $("history-note").textContent = note;
    if (typeof uPlot === "undefined") {
      box.appendChild(el("p", { class: "muted", text: "uPlot did not load: charts cannot be drawn" }));
      return;
    }
    shown.slice(0, MAX_CHARTS).forEach(function (s) { chart(box, view.versions, s); });
  }

  function chart(box, versions, s) {
    var index = new Map(versions.map(function (v, i) { return [v, i]; }));
    var xs = versions.map(function (_, i) { return i; });
    var ys = versions.map(function () { return null; });
    var bad = versions.map(function () { return null; });
    var regressed = 0;
    s.points.forEach(function (p) {
      var i = index.get(p.version);
      if (i === undefined) return;
      ys[i] = p.value;
      if (p.regressed && p.value !== null) { bad[i] = p.value; regressed++; }
    });
    var direction = s.direction === "lower_is_better" ? "lower is better" : s.direction === "higher_is_better" ? "higher is better" : "";
    var sub = [direction, s.threshold !== null && s.threshold !== undefined ? "threshold " + s.threshold_op + " " + fmt(s.threshold) : "", regressed ? regressed + " regressed" : ""]
      .filter(Boolean).join(" · ");
    var card = el("div", { class: "chart", data: { key: s.key, metric: s.metric, regressed: regressed } },
      el("h4", { text: seriesTitle(s) }), el("div", { class: "sub", text: sub }));
    box.appendChild(card);
    var series = [{
      label: "release", value: function (u, v) { return v === null || versions[v] === undefined ? "-" : versions[v]; },
    }, {
      label: s.metric, stroke: "#0969da", width: 2, spanGaps: true,
      points: { show: true, size: 5 }, value: function (u, v) { return v === null ? "-" : fmt(v); },
    }];
    var data = [xs, ys];
    if (s.threshold !== null && s.threshold !== undefined) {
      series.push({ label: "threshold " + s.threshold_op, stroke: "#bf8700", width: 1.5, dash: [6, 4], points: { show: false } });
      data.push(xs.map(function () { return s.threshold; }));
    }
    series.push({
      label: "regressed", stroke: "#cf222e", fill: "#cf222e", width: 0,
      paths: function () { return null; }, points: { show: true, size: 10, stroke: "#cf222e", fill: "#cf222e" },
    });
    data.push(bad);
    var width = Math.max(300, card.clientWidth - 12);
    var plot = new uPlot({
      width: width, height: 170,
      scales: { x: { time: false, range: [-0.5, Math.max(versions.length - 0.5, 0.5)] } },
      axes: [
        { values: function (u, splits) { return splits.map(function (v) { return Number.isInteger(v) && versions[v] !== undefined ? versions[v] : ""; }); }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500], space: 60 },
        { values: function (u, splits) { return splits.map(fmt); }, size: 56 },
      ],
      series: series,
      legend: { show: true },
    }, data, card);
    state.charts.push(plot);
  }

  // Live, the history is fetched each time the tab is opened (a release may have finished
  // since); the charts are redrawn only when it changed.
  function showHistory() {
    if (report !== null) { if (!state.history) renderHistory(report.history); return; }
    if (!state.history) $("history-note").textContent = "loading…";
    api("/api/history").then(function (view) {
      var text = JSON.stringify(view);
      if (text === state.historyText) return;
      state.historyText = text;
      renderHistory(view);
    }).catch(function (e) { $("history-note").textContent = String(e.message || e); });
  }

  // ---- compare ----
  function fillCompareSelects(versions) {
    // Releases are listed newest first; the default compares the two newest.
    [["compare-old", 1], ["compare-new", 0]].forEach(function (pair) {
      var select = $(pair[0]);
      var current = select.value;
      select.replaceChildren.apply(select, versions.map(function (v) { return el("option", { value: v, text: v }); }));
      if (current && versions.indexOf(current) >= 0) select.value = current;
      else if (versions.length > pair[1]) select.value = versions[pair[1]];
    });
  }

  function renderCompare(view) {
    state.compare = view;
    var all = $("compare-all").checked;
    var rows = view.rows.slice().sort(function (a, b) {
      return VERDICT_ORDER.indexOf(a.verdict) - VERDICT_ORDER.indexOf(b.verdict) ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0);
    });
    var unchanged = function (r) { return r.verdict === "same" || (r.verdict === "no direction" && r.old === r.new); };
    var hidden = rows.filter(unchanged).length;
    if (!all) rows = rows.filter(function (r) { return !unchanged(r); });
    var regressed = view.rows.filter(function (r) { return r.verdict === "regressed"; }).length;
    $("compare-note").textContent = view.old + " → " + view.new + ": " + regressed + " regressed of " +
      view.rows.length + " metrics" + (all ? "" : (hidden ? ", " + hidden + " unchanged hidden" : ""));
    if (view.rows.length === 0) {
      $("compare-note").textContent = "no validation ran in both " + view.old + " and " + view.new + ": nothing to compare";
    }
    var body = document.querySelector("#compare tbody");
    body.replaceChildren.apply(body, rows.map(function (r) {
      return el("tr", { data: { key: r.key, metric: r.metric, verdict: r.verdict } },
        el("td", { text: r.key }), el("td", { text: r.metric }),
        el("td", { class: "num", text: fmt(r.old) }), el("td", { class: "num", text: fmt(r.new) }),
        el("td", { class: "num", text: r.change }),
        el("td", null, el("span", { class: "pill v-" + r.verdict.replace(" ", "_"), text: r.verdict })));
    }));
  }

  function loadCompare() {
    var oldV = $("compare-old").value, newV = $("compare-new").value;
    if (report !== null) { if (report.compare) renderCompare(report.compare); return; }
    if (!oldV || !newV) return;
    $("compare-note").textContent = "loading…";
    api("/api/compare?old=" + enc(oldV) + "&new=" + enc(newV)).then(renderCompare)
      .catch(function (e) { $("compare-note").textContent = String(e.message || e); });
  }

  function showCompare() {
    if (report !== null) {
      if (!report.compare) {
        $("compare-note").textContent = "this report holds no comparison (spilot report VERSION --html OUT --compare OLD adds one)";
        return;
      }
      if (!state.compare) renderCompare(report.compare);
      return;
    }
    loadReleases(true).then(function () {
      if (!state.compare || state.compare.old !== $("compare-old").value || state.compare.new !== $("compare-new").value) loadCompare();
    }).catch(showError);
  }

  // ---- tabs ----
  function showTab(name) {
    state.tab = name;
    document.body.dataset.tab = name;
    document.querySelectorAll(".tabs button").forEach(function (b) {
      b.setAttribute("aria-selected", b.dataset.tab === name ? "true" : "false");
    });
    ["release", "history", "compare"].forEach(function (t) { $("tab-" + t).hidden = t !== name; });
    if (name === "history") showHistory();
    if (name === "compare") showCompare();
  }

  function wire() {
    document.querySelectorAll(".tabs button").forEach(function (b) {
      b.addEventListener("click", function () { showTab(b.dataset.tab); });
    });
    $("detail-close").addEventListener("click", closeDetail);
    $("row-filter").addEventListener("input", function (ev) {
      state.filterText = ev.target.value.trim().toLowerCase();
      refilter();
    });
    $("chart-filter").addEventListener("input", function () {
      if (state.history) renderHistory(state.history);
    });
    $("compare-all").addEventListener("change", function () { if (state.compare) renderCompare(state.compare); });
    ["compare-old", "compare-new"].forEach(function (id) {
      $(id).addEventListener("change", loadCompare);
    });
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") closeDetail(); });
  }

  function startStatic() {
    var view = report.release;
    state.version = view.summary.version;
    var picker = $("release-picker");
    picker.replaceChildren(el("option", { value: state.version, text: state.version }));
    picker.disabled = true;
    $("live-state").textContent = view.summary.running ? "report (the release was still running)" : "report";
    $("generated").textContent = "generated " + when(report.generated);
    if (report.compare) {
      [["compare-old", report.compare.old], ["compare-new", report.compare.new]].forEach(function (p) {
        $(p[0]).replaceChildren(el("option", { value: p[1], text: p[1] }));
        $(p[0]).disabled = true;
      });
    } else {
      $("compare-old").disabled = $("compare-new").disabled = true;
    }
    var t0 = performance.now();
    applyRelease(view);
    window.spilotApplied.push({ seq: null, type: "release", at: Date.now(), cost_ms: performance.now() - t0 });
    var failed = view.rows.find(function (r) { return r.status === "failed"; });
    if (failed) select(failed.key);
  }

  wire();
  document.body.dataset.mode = report !== null ? "static" : "live";
  showTab("release");
  if (report !== null) startStatic();
  else startLive();
})();
