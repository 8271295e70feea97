// DOM helpers. Every text from the run goes in as a text node or an attribute value, never as
// markup: app data holding HTML or a script is shown as text and never runs.
const SVGNS = "http://www.w3.org/2000/svg";

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") {
      for (const [name, fn] of Object.entries(value)) el.addEventListener(name, fn);
    } else if (key === "style") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return append(el, kids);
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  return append(el, kids);
}

function short(text, width) {
  text = String(text || "").replace(/\s+/g, " ").trim();
  return text.length <= width ? text : text.slice(0, width - 1) + "\u2026";
}

function secs(value) {
  if (value === null || value === undefined) return "-";
  if (value < 1) return (value * 1000).toFixed(value < 0.01 ? 1 : 0) + " ms";
  return value.toFixed(value < 10 ? 2 : 1) + " s";
}

function tokens(call) {
  return call.prompt_tokens + " in / " + call.completion_tokens + " out";
}

function badge(text, cls) {
  return h("span", { class: "badge " + (cls || "") }, text);
}

function table(headers, rows, cls) {
  return h(
    "table",
    { class: cls || "" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows)
  );
}

function section(title, id, ...kids) {
  return h("section", { id: id }, h("h2", {}, title), kids);
}
