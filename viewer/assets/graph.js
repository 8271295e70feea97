// The scheduling graph: one box per subtask, coloured by status, edges from producer to
// consumer labelled with the key information that flows along them.
function drawGraph(plan, pick, selected) {
  const W = plan.node.w;
  const H = plan.node.h;
  const root = svg("svg", {
    class: "graph",
    width: plan.width,
    height: plan.height,
    viewBox: "0 0 " + plan.width + " " + plan.height,
    "data-node-width": W,
    "data-gap": plan.node.gap,
    role: "img",
    "aria-label": plan.label + ": " + plan.nodes.length + " subtasks",
  });
  root.appendChild(
    svg("defs", {}, svg("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
    }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" })))
  );
  const at = {};
  for (const node of plan.nodes) at[node.id] = node;
  for (const edge of plan.edges) {
    const a = at[edge.from];
    const b = at[edge.to];
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const bend = Math.max(30, (x2 - x1) / 2);
    const path = "M " + x1 + " " + y1 + " C " + (x1 + bend) + " " + y1 + ", " +
      (x2 - bend) + " " + y2 + ", " + x2 + " " + y2;
    const flow = edge.label ? ": " + edge.label : "";
    const g = svg("g", { class: "edge", "data-from": edge.from, "data-to": edge.to },
      svg("title", {}, edge.from + " \u2192 " + edge.to + flow),
      svg("path", { d: path, "marker-end": "url(#arrow)" }));
    if (edge.label) {  // where the edge leaves its producer: every edge from it says the same
      g.appendChild(svg("text", { x: x1 + 6, y: y1 - 5, class: "edge-label" }, short(edge.label, 40)));
    }
    root.appendChild(g);
  }
  for (const node of plan.nodes) {
    const cls = ["node", "st-" + node.status];
    if (node.replanned) cls.push("replanned");
    if (node.fallback) cls.push("fallback");
    if (node.id === selected) cls.push("selected");
    const marks = [];
    if (node.attempts > 1) marks.push(node.attempts + " tries");
    if (node.replanned) marks.push("re-planned");
    if (node.fallback) marks.push("fallback");
    const g = svg("g", {
      class: cls.join(" "), "data-id": node.id, tabindex: 0,
      transform: "translate(" + node.x + " " + node.y + ")",
      on: { click: () => pick(node.id), keydown: (e) => { if (e.key === "Enter") pick(node.id); } },
    },
      svg("title", {}, node.id + " " + node.token + " (" + node.status + ")\n" + node.instruction),
      svg("rect", { width: W, height: H, rx: 8 }),
      svg("text", { x: 10, y: 18, class: "node-head" }, short(node.id + " " + node.token, 26)),
      svg("text", { x: 10, y: 34 }, short(node.instruction, 30)),
      svg("text", { x: 10, y: 49, class: "node-marks" }, node.status + (marks.length ? " \u00b7 " + marks.join(" \u00b7 ") : "")));
    root.appendChild(g);
  }
  return h("div", { class: "graph-wrap" }, root);
}

// Shortens the texts of the graph's nodes wider than their box, and the edges' labels wider
// than the room between columns (with an ellipsis; the whole text is the tooltip). Every width is read before any text is changed, so the
// page is laid out once however many nodes there are.
function fitGraphText(root) {
  const graph = root.querySelector("svg.graph");
  if (!graph) return;
  const nodeRoom = Number(graph.dataset.nodeWidth) - 20;
  const edgeRoom = Number(graph.dataset.gap) - 12;
  let texts = Array.from(graph.querySelectorAll(".node text, .edge-label"));
  const room = (t) => (t.classList.contains("edge-label") ? edgeRoom : nodeRoom);
  for (let pass = 0; pass < 3 && texts.length; pass++) {
    const widths = texts.map((t) => t.getComputedTextLength());
    const wide = [];
    texts.forEach((t, i) => {
      if (widths[i] <= room(t)) return;
      const text = t.textContent.replace(/\u2026$/, "");
      const keep = Math.floor((text.length * room(t)) / widths[i]) - 1;
      t.textContent = text.slice(0, Math.max(1, Math.min(text.length - 1, keep))).trimEnd() + "\u2026";
      wide.push(t);
    });
    texts = wide;
  }
}

function drawPlans(view, state, pick, choose) {
  const plans = view.plans;
  if (!plans.length) return h("p", { class: "muted" }, "No plan yet.");
  const index = state.plan === null ? plans.length - 1 : Math.min(state.plan, plans.length - 1);
  const plan = plans[index];
  const tabs = plans.map((p, i) =>
    h("button", { class: "tab" + (i === index ? " active" : ""), "data-plan": i,
      on: { click: () => choose(i) } }, p.label + (p.fallback ? " (fallback: " + p.fallback + ")" : "")));
  const unplaced = view.run.fallbacks.filter((f) => !plans.some((p) => p.fallback === f));
  return [
    h("div", { class: "tabs" }, tabs),
    unplaced.length ? h("p", { class: "muted" }, "Plans made by a fallback (which plan is not recorded): " + unplaced.join(", ")) : null,
    h("div", { class: "legend" }, ["pending", "running", "waiting", "succeeded", "failed", "skipped"].map(
      (s) => h("span", { class: "key st-" + s }, s)), h("span", { class: "key replanned" }, "re-planned"),
      h("span", { class: "key fallback" }, "fallback")),
    drawGraph(plan, pick, state.selected),
  ];
}
