// The timeline: a row per subtask, its attempts, model calls and tool calls placed at the times
// they happened (seconds from the run's start), so work done at the same time overlaps.
function ticks(duration) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
    120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => duration / s <= 8) || 7200;
  const out = [];
  for (let t = 0; t <= duration + 1e-9; t += step) out.push(t);
  return out;
}

function place(el, start, end, duration) {
  const left = Math.max(0, Math.min(100, (start / duration) * 100));
  const width = Math.max(0, Math.min(100 - left, ((end - start) / duration) * 100));
  el.style.setProperty("left", left + "%");
  el.style.setProperty("width", width + "%");
  return el;
}

function itemTitle(item) {
  if (item.kind === "call") {
    const who = item.subtask ? item.subtask + " attempt " + item.attempt : "steward";
    return item.purpose + " call (" + who + ", " + item.model + "): " + tokens(item) +
      " tokens, " + secs(item.latency_s) + (item.requests > 1 ? ", " + item.requests + " requests" : "") +
      (item.error ? "\nerror: " + item.error : "");
  }
  return "tool " + item.tool + (item.app ? " on " + item.app : "") + " (" + item.status +
    (item.estimated ? ", time estimated" : "") + "): " + secs(item.end - item.start) +
    (item.error ? "\nerror: " + item.error : "");
}

function drawTimeline(timeline, pick, selected) {
  const duration = timeline.duration || 0.001;
  const axis = h("div", { class: "tl-track axis" }, ticks(duration).map((t) =>
    place(h("span", { class: "tick" }, secs(t)), t, t, duration)));
  const rows = [h("div", { class: "tl-row tl-axis" }, h("div", { class: "tl-label" }, "time"), axis)];
  for (const row of timeline.rows) {
    if (!row.id && !row.items.length) continue;
    const track = h("div", { class: "tl-track" });
    if (row.start !== null && row.end !== null) {
      track.appendChild(place(h("div", { class: "bar st-" + row.status, title: row.label + ": " +
        row.status + ", " + secs(row.end - row.start) }), row.start, row.end, duration));
    }
    for (const a of row.attempts) {
      if (a.start === null || a.end === null) continue;
      const verdict = a.success === null ? "no verdict" : a.success ? "success" : "failed";
      track.appendChild(place(h("div", { class: "attempt " + (a.success ? "ok" : a.success === null ? "open" : "bad"),
        title: "attempt " + a.number + ": " + a.status + ", " + verdict }), a.start, a.end, duration));
    }
    for (const item of row.items) {
      const cls = "item " + item.kind + (item.kind === "call" ? " p-" + item.purpose : "") +
        (item.error ? " err" : "") + (item.status === "undone" ? " undone" : "");
      track.appendChild(place(h("div", { class: cls, title: itemTitle(item) }), item.start, item.end, duration));
    }
    const attrs = { class: "tl-row" + (row.id && row.id === selected ? " selected" : ""), "data-id": row.id || "steward" };
    if (row.id) attrs.on = { click: () => pick(row.id) };
    rows.push(h("div", attrs, h("div", { class: "tl-label", title: row.label }, short(row.label, 30)), track));
  }
  return [
    h("div", { class: "legend" }, h("span", { class: "key call" }, "model call"),
      h("span", { class: "key evaluate" }, "verdict call"), h("span", { class: "key tool" }, "tool call"),
      h("span", { class: "key attempt-ok" }, "attempt"), h("span", { class: "key attempt-bad" }, "failed attempt"),
      h("span", { class: "muted" }, " total " + secs(duration) + "; hover for tokens and latency, click a row for its history")),
    h("div", { class: "timeline" }, rows),
  ];
}
