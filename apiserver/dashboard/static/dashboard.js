// minik8s dashboard: a plain-JavaScript client of the Kubernetes API this page is served from.
// Every request carries the bearer token the user signed in with, so the apiserver's
// authentication and RBAC decide what is shown and allowed. Every list the page shows
// (namespaces, nodes, the namespace's deployments, pods, services and endpoints, a pod's events)
// is kept live as client-go's reflector keeps one: list, then watch from the list's
// resourceVersion; a watch the server ends (timeoutSeconds) is reopened from the last version
// seen, a 410 Gone or a broken connection relists. Watches go over WebSocket, as Kubernetes'
// apiserver serves them to browsers: a browser keeps at most six HTTP/1.1 connections to one
// origin, and a streamed fetch per watch would hold one each, while WebSockets are not counted
// against that pool. The token travels in the `base64url.bearer.authorization.k8s.io.` subprotocol
// (a browser's WebSocket cannot set an Authorization header). Node figures come from
// metrics.k8s.io, which serves no watch: they are polled, as `kubectl top` reads them and as the
// Kubernetes Dashboard's metrics scraper polls them.
"use strict";

const TOKEN_KEY = "minik8s-dashboard-token";
const METRICS_PERIOD_MS = 10000;
const WATCH_TIMEOUT_S = 240;  // as a reflector, end each watch after a while and reopen it
const GONE = new Error("410 Gone: the watch's resourceVersion is too old");
const state = { token: null, ns: null, watches: {}, nodeMetrics: new Map(), metricsTimer: null,
                detail: null, drafts: new Map() };

// --- the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, status) {
    super((status && status.message) || ("HTTP " + code));
    this.code = code;
    this.reason = status && status.reason;
  }
}

function headers(extra) {
  return Object.assign({ "Authorization": "Bearer " + state.token, "Accept": "application/json" }, extra || {});
}

async function failure(response) {
  let status = null;
  try { status = await response.json(); } catch (e) { status = null; }
  return new ApiError(response.status, status);
}

async function api(method, path, body, contentType, signal) {
  const init = { method: method, headers: headers(), signal: signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType || "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, init);
      break;
    } catch (e) {
      // A network error before any answer (Chromium's ERR_NETWORK_CHANGED when interfaces come
      // and go): try again, twice; an abort is the caller's and ends here.
      if (e.name === "AbortError" || attempt >= 4) throw e;
      await sleep(500 * (attempt + 1));
    }
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

// Lines of a streamed response body (a watch or a followed log), as they arrive.
async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
    }
  }
  if (buffer) yield buffer;
}

// The subprotocol carrying the bearer token: base64url without padding (Kubernetes'
// authentication/request/websocket). The server never echoes it back.
function bearerProtocol(token) {
  let binary = "";
  for (const byte of new TextEncoder().encode(token)) binary += String.fromCharCode(byte);
  const b64 = btoa(binary);
  return "base64url.bearer.authorization.k8s.io." + b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function socketURL(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// A live collection, as client-go's reflector keeps one: list, then watch from the list's
// resourceVersion over a WebSocket; a watch the server ends normally (timeoutSeconds) is
// reopened from the last version seen; 410 Gone relists at once; any other failure (refused
// upgrade, broken connection, an ERROR event) shows the error and relists after a backoff.
class LiveList {
  constructor(name, path, query, onChange) {
    this.name = name;
    this.path = path;
    this.query = query || "";
    this.onChange = onChange;
    this.items = new Map();
    this.error = null;
    this.controller = new AbortController();
    this.socket = null;
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    this.controller.abort();
    if (this.socket) this.socket.close(1000);
  }

  url(extra) {
    const q = [this.query, extra].filter(Boolean).join("&");
    return this.path + (q ? "?" + q : "");
  }

  changed() { if (!this.stopped) this.onChange(this); }

  async run() {
    let backoff = 500;
    while (!this.stopped) {
      try {
        const list = await api("GET", this.url(""), undefined, undefined, this.controller.signal);
        this.items = new Map(list.items.map(function (o) { return [o.metadata.uid, o]; }));
        this.error = null;
        this.changed();
        backoff = 500;
        let rv = list.metadata.resourceVersion;
        while (!this.stopped) rv = await this.watch(rv);
      } catch (e) {
        if (this.stopped) return;
        if (e === GONE) continue;  // too old: relist now
        this.error = e;
        this.changed();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    }
  }

  // One watch from `rv` over a WebSocket: resolves with the last resourceVersion seen when the
  // server ends it normally, rejects (GONE for 410) otherwise.
  watch(rv) {
    const self = this;
    return new Promise(function (resolve, reject) {
      const query = "watch=true&allowWatchBookmarks=true&timeoutSeconds=" + WATCH_TIMEOUT_S +
                    "&resourceVersion=" + encodeURIComponent(rv);
      const ws = new WebSocket(socketURL(self.url(query)), ["base64.binary.k8s.io", bearerProtocol(state.token)]);
      const opened = Date.now();
      let failed = null, events = 0;
      self.socket = ws;
      ws.onmessage = function (message) {  // one WatchEvent per message
        const event = JSON.parse(message.data);
        events++;
        if (event.type === "ERROR") {
          failed = event.object.code === 410 ? GONE : new ApiError(event.object.code, event.object);
          ws.close(1000);
          return;
        }
        rv = event.object.metadata.resourceVersion;
        if (event.type === "BOOKMARK") return;
        if (event.type === "DELETED") self.items.delete(event.object.metadata.uid);
        else self.items.set(event.object.metadata.uid, event.object);
        self.changed();
      };
      ws.onclose = function (ev) {
        if (self.socket === ws) self.socket = null;
        if (failed) reject(failed);
        else if (self.stopped) resolve(rv);
        else if (ev.code !== 1000) {
          // A refused upgrade (401, 403) or a lost connection: the browser tells no more than this.
          reject(new Error("the watch of " + self.name + " failed (WebSocket closed with " + ev.code + ")"));
        } else if (events === 0 && Date.now() - opened < 1000) {
          reject(new Error("the watch of " + self.name + " ended at once"));  // the reflector's "very short watch"
        } else resolve(rv);
      };
    });
  }

  sorted() {
    return Array.from(this.items.values()).sort(function (a, b) {
      return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
    });
  }
}

// --- formatting (kubectl's printers) -------------------------------------------------------

function age(ts) {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 10) return m + "m" + (s % 60 ? (s % 60) + "s" : "");
  if (m < 180) return m + "m";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h" + (m % 60 ? (m % 60) + "m" : "");
  return Math.floor(h / 24) + "d";
}

const SUFFIX = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
                 Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6 };

// A resource.Quantity as a number ("250m" -> 0.25, "64Mi" -> 67108864, "1e3" -> 1000).
function quantity(q) {
  if (q === undefined || q === null) return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(String(q).trim());
  if (!m || !(m[2] in SUFFIX)) return NaN;
  return parseFloat(m[1]) * SUFFIX[m[2]];
}

// The STATUS column of `kubectl get pods`.
function podStatus(pod) {
  const st = pod.status || {};
  let reason = st.reason || st.phase || "Unknown";
  const inits = st.initContainerStatuses || [];
  let initializing = false;
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i], s = c.state || {};
    if (s.terminated && s.terminated.exitCode === 0) continue;
    if (s.terminated) {
      reason = "Init:" + (s.terminated.reason || (s.terminated.signal ? "Signal:" + s.terminated.signal
                                                                         : "ExitCode:" + s.terminated.exitCode));
    } else if (s.waiting && s.waiting.reason && s.waiting.reason !== "PodInitializing") {
      reason = "Init:" + s.waiting.reason;
    } else {
      reason = "Init:" + i + "/" + ((pod.spec.initContainers || []).length);
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    let running = false;
    const cs = (st.containerStatuses || []).slice().reverse();
    for (const c of cs) {
      const s = c.state || {};
      if (s.waiting && s.waiting.reason) reason = s.waiting.reason;
      else if (s.terminated && s.terminated.reason) reason = s.terminated.reason;
      else if (s.terminated) reason = s.terminated.signal ? "Signal:" + s.terminated.signal : "ExitCode:" + s.terminated.exitCode;
      else if (c.ready && s.running) running = true;
    }
    if (reason === "Completed" && running) reason = "Running";
  }
  if (pod.metadata.deletionTimestamp) reason = st.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

// Where a Deployment's rollout stands, worded as `kubectl rollout status` words it.
function rollout(d) {
  const name = d.metadata.name, spec = d.spec || {}, st = d.status || {};
  const want = spec.replicas === undefined ? 1 : spec.replicas;
  const updated = st.updatedReplicas || 0, total = st.replicas || 0, available = st.availableReplicas || 0;
  if ((d.metadata.generation || 0) > (st.observedGeneration || 0)) {
    return ["Progressing", "Waiting for deployment spec update to be observed..."];
  }
  const progressing = (st.conditions || []).find(function (c) { return c.type === "Progressing"; });
  if (progressing && progressing.reason === "ProgressDeadlineExceeded") {
    return ["Failed", 'deployment "' + name + '" exceeded its progress deadline'];
  }
  const waiting = 'Waiting for deployment "' + name + '" rollout to finish: ';
  if (updated < want) return ["Progressing", waiting + updated + " out of " + want + " new replicas have been updated..."];
  if (total > updated) return ["Progressing", waiting + (total - updated) + " old replicas are pending termination..."];
  if (available < updated) return ["Progressing", waiting + available + " of " + updated + " updated replicas are available..."];
  return ["Complete", 'deployment "' + name + '" successfully rolled out'];
}

// --- rendering -----------------------------------------------------------------------------

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function button(label, action, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener("click", onClick);
  return b;
}

function fill(tableId, live, makeRow) {
  const tbody = document.querySelector("#" + tableId + " tbody");
  const rows = live ? live.sorted().map(makeRow) : [];
  tbody.replaceChildren.apply(tbody, rows);
  const err = document.querySelector('.err[data-for="' + tableId + '"]');
  if (err) err.textContent = live && live.error ? live.error.message : "";
}

function row(obj) {
  const tr = document.createElement("tr");
  tr.dataset.name = obj.metadata.name;
  return tr;
}

function renderNodes(live) {
  fill("nodes", live, function (node) {
    const tr = row(node);
    cell(tr, node.metadata.name);
    const ready = (node.status.conditions || []).find(function (c) { return c.type === "Ready"; });
    let status = ready && ready.status === "True" ? "Ready" : "NotReady";
    if (node.spec && node.spec.unschedulable) status += ",SchedulingDisabled";
    cell(tr, status, status.startsWith("Ready") ? "state-ok" : "state-bad");
    const m = state.nodeMetrics.get(node.metadata.name);
    const alloc = node.status.allocatable || node.status.capacity || {};
    if (m) {
      const cpu = quantity(m.usage.cpu), mem = quantity(m.usage.memory);
      cell(tr, Math.round(cpu * 1000) + "m", "cpu");
      cell(tr, Math.round(100 * cpu / quantity(alloc.cpu)) + "%", "cpu-pct");
      cell(tr, Math.round(mem / 1024 ** 2) + "Mi", "memory");
      cell(tr, Math.round(100 * mem / quantity(alloc.memory)) + "%", "memory-pct");
    } else {
      for (const cls of ["cpu", "cpu-pct", "memory", "memory-pct"]) cell(tr, "<unknown>", cls);
    }
    cell(tr, age(node.metadata.creationTimestamp));
    return tr;
  });
}

function renderDeployments(live) {
  fill("deployments", live, function (d) {
    const tr = row(d), st = d.status || {};
    const want = d.spec.replicas === undefined ? 1 : d.spec.replicas;
    cell(tr, d.metadata.name);
    cell(tr, (st.readyReplicas || 0) + "/" + want, "ready");
    cell(tr, String(st.updatedReplicas || 0));
    cell(tr, String(st.availableReplicas || 0));
    const r = rollout(d);
    const td = cell(tr, r[0], "rollout " + (r[0] === "Complete" ? "state-ok" : r[0] === "Failed" ? "state-bad" : "state-warn"));
    td.title = r[1];
    cell(tr, age(d.metadata.creationTimestamp));
    const actions = cell(tr, "");
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.className = "replicas";
    // what the user is typing survives the re-render each watch event causes
    const key = d.metadata.uid;
    input.value = state.drafts.has(key) ? state.drafts.get(key) : String(want);
    input.addEventListener("input", function () { state.drafts.set(key, input.value); });
    input.setAttribute("aria-label", "replicas of " + d.metadata.name);
    actions.appendChild(input);
    actions.appendChild(button("Scale", "scale", function () { scale(d, input.value); }));
    actions.appendChild(button("Restart", "restart", function () { restart(d); }));
    return tr;
  });
}

function renderPods(live) {
  fill("pods", live, function (pod) {
    const tr = row(pod), cs = (pod.status && pod.status.containerStatuses) || [];
    cell(tr, pod.metadata.name);
    cell(tr, cs.filter(function (c) { return c.ready; }).length + "/" + pod.spec.containers.length);
    const status = podStatus(pod);
    cell(tr, status, "status " + (status === "Running" || status === "Completed" ? "state-ok" :
                                  status === "Pending" || status === "ContainerCreating" ? "state-warn" : "state-bad"));
    cell(tr, String(cs.reduce(function (n, c) { return n + (c.restartCount || 0); }, 0)), "restarts");
    cell(tr, pod.spec.nodeName || "<none>", "node");
    cell(tr, age(pod.metadata.creationTimestamp));
    const actions = cell(tr, "");
    actions.appendChild(button("Logs & events", "details", function () { openDetail(pod); }));
    actions.appendChild(button("Delete", "delete", function () { deletePod(pod); }));
    return tr;
  });
}

function endpointsOf(name) {
  const live = state.watches.endpoints;
  if (!live) return "";
  const ep = live.sorted().find(function (e) { return e.metadata.name === name; });
  if (!ep) return "<none>";
  const out = [];
  for (const subset of ep.subsets || []) {
    for (const addr of subset.addresses || []) {
      for (const port of subset.ports || [{}]) out.push(addr.ip + (port.port ? ":" + port.port : ""));
    }
  }
  return out.length ? out.join(", ") : "<none>";
}

function renderServices() {
  fill("services", state.watches.services, function (svc) {
    const tr = row(svc), spec = svc.spec || {};
    cell(tr, svc.metadata.name);
    cell(tr, spec.type || "ClusterIP");
    cell(tr, spec.clusterIP || "<none>");
    cell(tr, (spec.ports || []).map(function (p) {
      return p.port + (p.nodePort ? ":" + p.nodePort : "") + "/" + (p.protocol || "TCP");
    }).join(",") || "<none>");
    cell(tr, endpointsOf(svc.metadata.name), "endpoints");
    cell(tr, age(svc.metadata.creationTimestamp));
    return tr;
  });
}

function renderEvents(live) {
  fill("events", live, function (ev) {
    const tr = row(ev);
    cell(tr, age(ev.lastTimestamp || ev.eventTime || ev.metadata.creationTimestamp));
    cell(tr, ev.type || "");
    cell(tr, ev.reason || "");
    cell(tr, (ev.source && ev.source.component) || ev.reportingComponent || "");
    cell(tr, ev.message || "");
    return tr;
  });
}

function say(text, ok) {
  const el = document.getElementById("message");
  el.textContent = text;
  el.className = ok ? "ok" : "";
}

// --- actions -------------------------------------------------------------------------------

function deploymentPath(d) {
  return "/apis/apps/v1/namespaces/" + encodeURIComponent(d.metadata.namespace) + "/deployments/" +
         encodeURIComponent(d.metadata.name);
}

async function scale(d, value) {
  const replicas = Number(value);
  if (!Number.isInteger(replicas) || replicas < 0) {
    say("replicas must be a whole number, 0 or more (got " + JSON.stringify(value) + ")");
    return;
  }
  try {  // as `kubectl scale`: a merge patch of the scale subresource
    await api("PATCH", deploymentPath(d) + "/scale", { spec: { replicas: replicas } }, "application/merge-patch+json");
    state.drafts.delete(d.metadata.uid);
    say("deployment.apps/" + d.metadata.name + " scaled", true);
  } catch (e) { say(e.message); }
}

async function restart(d) {
  if (d.spec.paused) {
    say("deployments \"" + d.metadata.name + "\" can't restart paused deployment (run rollout resume first)");
    return;
  }
  // as `kubectl rollout restart`: the pod template's restartedAt annotation, RFC 3339 in seconds
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const patch = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": now } } } } };
  try {
    await api("PATCH", deploymentPath(d) + "?fieldManager=minik8s-dashboard", patch,
              "application/strategic-merge-patch+json");
    say("deployment.apps/" + d.metadata.name + " restarted", true);
  } catch (e) { say(e.message); }
}

async function deletePod(pod) {
  if (!window.confirm("Delete pod " + pod.metadata.name + "?")) return;
  const path = "/api/v1/namespaces/" + encodeURIComponent(pod.metadata.namespace) + "/pods/" +
               encodeURIComponent(pod.metadata.name);
  try {
    await api("DELETE", path, { propagationPolicy: "Background" });
    say('pod "' + pod.metadata.name + '" deleted', true);
  } catch (e) { say(e.message); }
}

// --- a pod's logs and events -----------------------------------------------------------------

function closeDetail() {
  if (state.detail) {
    state.detail.logs.abort();
    state.detail.events.stop();
    state.detail = null;
  }
  document.getElementById("pod-detail").hidden = true;
}

async function followLogs(pod, container, controller) {
  const pre = document.getElementById("logs");
  pre.textContent = "";
  const path = "/api/v1/namespaces/" + encodeURIComponent(pod.metadata.namespace) + "/pods/" +
               encodeURIComponent(pod.metadata.name) + "/log?follow=true&tailLines=500&container=" +
               encodeURIComponent(container);
  try {
    const response = await fetch(path, { headers: headers({ "Accept": "text/plain" }), signal: controller.signal });
    if (!response.ok) throw await failure(response);
    for await (const line of lines(response)) pre.textContent += line + "\n";
  } catch (e) {
    if (!controller.signal.aborted) pre.textContent += "[" + e.message + "]\n";
  }
}

function openDetail(pod, container) {
  closeDetail();
  const names = pod.spec.containers.map(function (c) { return c.name; });
  container = container || names[0];
  document.getElementById("detail-name").textContent = pod.metadata.name;
  const select = document.getElementById("detail-container");
  select.replaceChildren.apply(select, names.map(function (n) {
    const o = document.createElement("option");
    o.value = o.textContent = n;
    o.selected = n === container;
    return o;
  }));
  select.onchange = function () { openDetail(pod, select.value); };
  const logs = new AbortController();
  // as `kubectl describe`: the events whose involvedObject is this pod
  const selector = "fieldSelector=" + encodeURIComponent("involvedObject.name=" + pod.metadata.name +
                                                         ",involvedObject.namespace=" + pod.metadata.namespace +
                                                         ",involvedObject.uid=" + pod.metadata.uid);
  const events = new LiveList("events", "/api/v1/namespaces/" + encodeURIComponent(pod.metadata.namespace) + "/events",
                              selector, renderEvents);
  state.detail = { pod: pod, logs: logs, events: events };
  document.getElementById("pod-detail").hidden = false;
  followLogs(pod, container, logs);
}

// --- wiring --------------------------------------------------------------------------------

function stopNamespaced() {
  for (const key of ["deployments", "pods", "services", "endpoints"]) {
    if (state.watches[key]) state.watches[key].stop();
    delete state.watches[key];
  }
  closeDetail();
}

function watchNamespace(ns) {
  stopNamespaced();
  state.ns = ns;
  const base = "/api/v1/namespaces/" + encodeURIComponent(ns);
  state.watches.deployments = new LiveList("deployments", "/apis/apps/v1/namespaces/" + encodeURIComponent(ns) + "/deployments",
                                           "", renderDeployments);
  state.watches.pods = new LiveList("pods", base + "/pods", "", renderPods);
  state.watches.services = new LiveList("services", base + "/services", "", renderServices);
  state.watches.endpoints = new LiveList("endpoints", base + "/endpoints", "", renderServices);
  renderDeployments(state.watches.deployments);
  renderPods(state.watches.pods);
  renderServices();
}

function renderNamespaces(live) {
  const select = document.getElementById("namespace");
  const names = live.sorted().map(function (n) { return n.metadata.name; });
  if (state.ns && names.indexOf(state.ns) < 0) names.push(state.ns);  // a namespace we may not list
  select.replaceChildren.apply(select, names.map(function (n) {
    const o = document.createElement("option");
    o.value = o.textContent = n;
    o.selected = n === state.ns;
    return o;
  }));
  if (live.error) say("namespaces: " + live.error.message);
}

// metrics.k8s.io has no watch (the figures are computed, not stored): polled every
// METRICS_PERIOD_MS, as the Kubernetes Dashboard's metrics scraper polls it. The one poll left.
async function pollMetrics() {
  try {
    const list = await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes");
    state.nodeMetrics = new Map(list.items.map(function (m) { return [m.metadata.name, m]; }));
  } catch (e) {
    state.nodeMetrics = new Map();  // e.g. forbidden, or no figures yet: the cells say <unknown>
  }
  if (state.watches.nodes) renderNodes(state.watches.nodes);
}

async function signIn(token) {
  state.token = token;
  try {  // who the token says we are (`kubectl auth whoami`); a wrong token gets 401 and nothing else
    const review = await api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
    document.getElementById("whoami").textContent = review.status.userInfo.username;
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    say(e.code === 401 ? "Unauthorized: the token was not accepted" : e.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  say("");
  document.getElementById("login").hidden = true;
  document.getElementById("views").hidden = false;
  document.getElementById("ns-label").hidden = false;
  document.getElementById("signout").hidden = false;
  const fromHash = decodeURIComponent(location.hash.replace(/^#/, ""));
  watchNamespace(fromHash || "default");
  state.watches.namespaces = new LiveList("namespaces", "/api/v1/namespaces", "", renderNamespaces);
  state.watches.nodes = new LiveList("nodes", "/api/v1/nodes", "", renderNodes);
  pollMetrics();
  state.metricsTimer = setInterval(pollMetrics, METRICS_PERIOD_MS);
}

function signOut() {
  stopNamespaced();
  for (const key of Object.keys(state.watches)) state.watches[key].stop();
  state.watches = {};
  clearInterval(state.metricsTimer);
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

document.addEventListener("DOMContentLoaded", function () {
  document.getElementById("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const token = document.getElementById("token").value.trim();
    if (token) signIn(token);
  });
  document.getElementById("namespace").addEventListener("change", function (ev) {
    location.hash = encodeURIComponent(ev.target.value);
    watchNamespace(ev.target.value);
  });
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("detail-close").addEventListener("click", closeDetail);
  setInterval(function () {  // ages move on without events
    if (state.watches.pods) renderPods(state.watches.pods);
  }, 30000);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
