// The page: reads the run's view data, draws every section, and (served by `steward ui`)
// polls for a newer view while the run goes on.
const FINAL = ["succeeded", "failed", "budget_exceeded", "error"];
const state = { view: null, plan: null, selected: null, live: null, etag: null, updated: null, checked: null };

function readJson(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

function drawHeader(run) {
  const u = run.usage;
  return h("header", {},
    h("h1", {}, "Run " + run.id + " ", badge(run.status, "st-" + run.status)),
    h("p", { class: "instruction" }, run.instruction),
    kv([["answer", run.answer], ["error", run.error],
      ["usage", u.prompt_tokens + " prompt + " + u.completion_tokens + " completion tokens in " + u.calls +
        " model calls; " + secs(u.latency_s) + " waiting for models; wall time " + secs(run.wall_s)],
      ["model", run.model], ["scenario", run.scenario], ["re-plans", run.replans || ""],
      ["fallbacks", run.fallbacks.join(", ")], ["notes", run.notes.join("\n")]]),
    h("p", { id: "live", class: "muted" }, liveText()));
}

function liveText() {
  if (!state.live) return "";
  const when = state.updated ? state.updated.toLocaleTimeString() : "";
  const checked = state.checked ? state.checked.toLocaleTimeString() : "";
  if (state.live.failed) return "live: the server does not answer; retrying";
  if (state.view.run.status === "waiting") {
    return "live: the run waits for a person's decision (steward approve " + state.view.run.id + "; checked " + checked + ")";
  }
  return FINAL.includes(state.view.run.status) ? "live: the run has ended (checked " + checked + ")"
    : "live: updating while the run goes on (last change " + when + ")";
}

function pick(id) {
  state.selected = id;
  render();
  const panel = document.getElementById("subtask");
  if (panel && panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
}

function choosePlan(index) {
  state.plan = index;
  render();
}

function drawCalls(calls) {
  return section("Model calls", "calls", h("details", { open: calls.length <= 60 },
    h("summary", {}, calls.length + " calls"), table(CALL_HEADERS, calls.map(callRow))));
}

function render() {
  const view = state.view;
  const root = document.getElementById("app");
  root.replaceChildren(
    drawHeader(view.run),
    section("Scheduling graph", "graph", drawPlans(view, state, pick, choosePlan)),
    section("Timeline", "timeline", drawTimeline(view.timeline, pick, state.selected)),
    section("Subtask", "subtask", drawSubtask(view, state.selected)),
    section("Subtasks", "subtasks", drawSubtaskTable(view, pick)),
    drawCalls(allCalls(view)),
    section("Memory used", "memory", drawMemory(view.memory)),
    section("App changes", "apps", drawApps(view.apps)));
  fitGraphText(root);
  document.title = "Steward run " + view.run.id + " (" + view.run.status + ")";
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
}

async function poll() {
  const live = state.live;
  try {
    const headers = state.etag ? { "If-None-Match": state.etag } : {};
    const answer = await fetch(live.url, { headers: headers, cache: "no-store" });
    live.failed = false;
    state.checked = new Date();
    if (answer.status === 200) {
      state.etag = answer.headers.get("ETag");
      state.view = await answer.json();
      state.updated = new Date();
      render();
    } else if (answer.status !== 304) {
      live.failed = true;
    }
  } catch (err) {
    live.failed = true;
  }
  const line = document.getElementById("live");
  if (line) line.textContent = liveText();
  const status = state.view.run.status;
  const wait = FINAL.includes(status) || status === "waiting" ? live.slow_ms : live.interval_ms;
  setTimeout(poll, wait);
}

function start() {
  state.view = readJson("steward-data");
  state.live = readJson("steward-live");
  if (state.live) {
    state.etag = state.live.etag || null;
    state.updated = state.checked = new Date();
  }
  render();
  if (state.live) setTimeout(poll, state.live.interval_ms);
}

start();
