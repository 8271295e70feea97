// A subtask's whole history (every attempt: steps, model calls, verdict), and the run's tables.
function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter((p) => p[1] !== "" && p[1] !== null && p[1] !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function callRow(c) {
  return h("tr", { class: c.error ? "err" : "" },
    h("td", {}, c.subtask ? c.subtask + " #" + c.attempt : c.role || "steward"), h("td", {}, c.purpose),
    h("td", {}, c.model), h("td", { class: "num" }, secs(c.start)), h("td", { class: "num" }, c.prompt_tokens),
    h("td", { class: "num" }, c.completion_tokens), h("td", { class: "num" }, secs(c.latency_s)),
    h("td", { class: "num" }, c.requests), h("td", {}, c.error || ""));
}

const CALL_HEADERS = ["who", "purpose", "model", "at", "prompt tok.", "completion tok.", "latency", "requests", "error"];

function promptBlock(c, texts) {
  if (!c.prompt.length && c.output === null) return null;
  return h("details", { class: "prompt" }, h("summary", {}, c.purpose + " call: prompt and output"),
    c.prompt.map((m) => h("div", { class: "msg" }, h("b", {}, m.role), h("pre", {}, texts[m.text]))),
    h("div", { class: "msg" }, h("b", {}, "output"), h("pre", {}, c.output === null ? "" : texts[c.output])));
}

function allCalls(view) {
  const calls = [];
  for (const row of view.timeline.rows) for (const item of row.items) if (item.kind === "call") calls.push(item);
  return calls.sort((a, b) => a.start - b.start);
}

function drawAttempt(a, texts) {
  const v = a.verdict;
  const head = "Attempt " + a.number + " \u2014 " + a.status +
    (v ? (v.success ? " \u2014 verdict: success" : " \u2014 verdict: " + v.failure_kind) : " \u2014 no verdict");
  const steps = a.steps.map((s, i) => h("tr", { class: s.error ? "err" : "" },
    h("td", { class: "num" }, i + 1), h("td", {}, s.tool),
    h("td", {}, h("pre", {}, s.tool === "finish" ? s.result : s.arguments)),
    h("td", {}, h("pre", {}, s.error ? "error: " + s.error : s.observation)),
    h("td", {}, [s.action_id || "", s.repeated ? "repeated" : "", s.refused ? "refused" : "",
      s.reused ? "reused " + s.reused : ""].filter(Boolean).join(", ")), h("td", { class: "num" }, secs(s.latency_s))));
  const calls = [...a.calls, ...(v && v.call ? [v.call] : [])];
  return h("div", { class: "attempt-box " + (v ? (v.success ? "ok" : "bad") : "open") },
    h("h4", {}, head),
    kv([["time", secs(a.start) + " \u2192 " + secs(a.end)], ["tips given", a.tips],
      ["inputs", Object.entries(a.inputs).map(([k, x]) => k + ": " + x).join("\n")],
      ["result", a.result], ["verdict tips", v ? v.tips : ""], ["key info", v ? v.key_info : ""],
      ["overridden", v ? v.overridden : ""], ["carried", a.carried.join(", ")],
      ["rolled back", a.rolled_back ? "yes: the app was put back as before the subtask" : ""],
      ["tokens", a.usage.prompt_tokens + " in / " + a.usage.completion_tokens + " out in " + a.usage.calls + " calls"]]),
    steps.length ? table(["#", "tool", "arguments", "observation", "action id, flags", "latency"], steps, "steps") : h("p", { class: "muted" }, "No steps."),
    calls.length ? table(CALL_HEADERS, calls.map(callRow)) : null,
    calls.map((c) => promptBlock(c, texts)),
    a.changes.length ? h("ul", { class: "changes" }, a.changes.map((c) => h("li", {}, c))) : null);
}

function drawSubtask(view, id) {
  const sub = view.subtasks.find((s) => s.id === id);
  if (!sub) return h("p", { class: "muted" }, "Click a node of the graph or a row of the timeline to see that subtask's whole history.");
  return h("div", { class: "subtask", "data-id": sub.id },
    h("h3", {}, sub.id + " " + sub.token + " ", badge(sub.status, "st-" + sub.status)),
    kv([["instruction", sub.instruction], ["needs", sub.needs.join(", ")], ["attempts", sub.attempts],
      ["key info", sub.key_info], ["result", sub.result],
      ["time", secs(sub.start) + " \u2192 " + secs(sub.end)],
      ["tokens", sub.usage.prompt_tokens + " in / " + sub.usage.completion_tokens + " out in " + sub.usage.calls + " calls"]]),
    sub.history.length ? sub.history.map((a) => drawAttempt(a, view.texts)) : h("p", { class: "muted" }, "Its history is written when it ends."));
}

function drawSubtaskTable(view, pick) {
  const rows = view.subtasks.map((s) => h("tr", { class: "clickable", "data-id": s.id, on: { click: () => pick(s.id) } },
    h("td", {}, s.id), h("td", {}, s.token), h("td", {}, badge(s.status, "st-" + s.status)),
    h("td", { class: "num" }, s.attempts), h("td", { class: "num" }, s.usage.prompt_tokens + s.usage.completion_tokens),
    h("td", { class: "num" }, s.start !== null && s.end !== null ? secs(s.end - s.start) : "-"),
    h("td", {}, short(s.key_info || s.result, 80)), h("td", {}, short(s.tips, 80))));
  return table(["id", "agent", "status", "attempts", "tokens", "time", "key info", "last tips"], rows);
}

function drawMemory(memory) {
  if (!memory.length) return h("p", { class: "muted" }, "No memory entry went into this run's prompts.");
  return table(["for", "kind", "entries (score)", "query"], memory.map((m) => h("tr", {},
    h("td", {}, m.for), h("td", {}, m.kind),
    h("td", {}, m.ids.map((id, i) => "#" + id + (m.scores[i] !== undefined ? " (" + m.scores[i] + ")" : "")).join(", ")),
    h("td", {}, m.query))));
}

function drawApps(apps) {
  if (!apps.length) return h("p", { class: "muted" }, "No app states were saved for this run.");
  return apps.map((a) => h("div", { class: "app " + a.state, "data-app": a.app },
    h("h4", {}, a.app + ": " + (a.state === "changed" ? a.changes.length + a.more + " change(s)" : a.state)),
    a.note ? h("p", { class: "muted" }, a.note) : null,
    a.changes.length ? h("ul", { class: "changes" }, a.changes.map((c) => h("li", {}, c)),
      a.more ? h("li", { class: "muted" }, a.more + " more") : null) : null));
}
