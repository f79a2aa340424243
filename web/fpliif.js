// FP-LIIF face parsing: a colour-coded label picker on "FP-LIIF Labels to Mask" and "FP-LIIF Cut Out", and a label
// legend on "FP-LIIF Parse Faces". The picker edits the node's comma-separated `labels` (click) and `subtract`
// (shift-click) texts, which stay the source of truth (they are what the workflow saves and what the Python node
// reads); the picker itself is not saved. Chips show readable names; the texts hold the machine names.
import { app } from "../../scripts/app.js";

const PARSE_NODE = "FPLIIF_ParseFaces";
let table = null; // {labels: [{id, name, display, color}], groups: {name: [members]}} from a node definition

const STYLE = `
.fpliif-box{display:flex;flex-direction:column;gap:2px;padding:3px;font:11px sans-serif;overflow-y:auto;box-sizing:border-box;width:100%}
.fpliif-row{display:flex;flex-wrap:wrap;align-items:center;gap:3px}
.fpliif-head{color:#999;font-size:10px;margin-right:2px;min-width:38px}
.fpliif-chip{display:inline-flex;align-items:center;gap:3px;padding:1px 5px;border-radius:8px;cursor:pointer;
  border:1px solid #555;color:#ddd;background:#2a2a2a;user-select:none;white-space:nowrap}
.fpliif-chip.on{background:#3d5a80;border-color:#9cc3ff;color:#fff}
.fpliif-chip.off{background:#5a2a2a;border-color:#ff9c9c;color:#fff;text-decoration:line-through}
.fpliif-chip.group{border-style:dashed}
.fpliif-dot{width:9px;height:9px;border-radius:50%;border:1px solid #000;flex:none}
.fpliif-legend .fpliif-chip{cursor:default}`;

function addStyle() {
  if (document.getElementById("fpliif-style")) return;
  const style = document.createElement("style");
  style.id = "fpliif-style";
  style.textContent = STYLE;
  document.head.appendChild(style);
}

function chip(text, color, title) {
  const el = document.createElement("span");
  el.className = "fpliif-chip";
  el.title = title || text;
  if (color) {
    const dot = document.createElement("span");
    dot.className = "fpliif-dot";
    dot.style.background = color;
    el.appendChild(dot);
  }
  el.appendChild(document.createTextNode(text));
  return el;
}

function row(title) {
  const el = document.createElement("div");
  el.className = "fpliif-row";
  const head = document.createElement("span");
  head.className = "fpliif-head";
  head.textContent = title;
  el.appendChild(head);
  return el;
}

const splitLabels = (text) => String(text || "").split(/[,;]/).map((s) => s.trim().toLowerCase()).filter(Boolean);
const pickerOf = (nodeData) => nodeData.input?.required?.labels?.[1]?.fpliif_picker;

function addPicker(node, picker) {
  const labelsWidget = node.widgets?.find((w) => w.name === "labels");
  const subtractWidget = node.widgets?.find((w) => w.name === "subtract");
  if (!labelsWidget) return;
  const box = document.createElement("div");
  box.className = "fpliif-box";
  const chips = new Map();
  const toggle = (widget, other, name) => {
    const chosen = splitLabels(widget.value);
    const next = chosen.includes(name) ? chosen.filter((n) => n !== name) : [...chosen, name];
    widget.value = next.join(",");
    widget.callback?.(widget.value);
    if (other && splitLabels(other.value).includes(name)) { // a label is either added or taken away
      other.value = splitLabels(other.value).filter((n) => n !== name).join(",");
      other.callback?.(other.value);
    }
    refresh();
    node.setDirtyCanvas(true, true);
  };
  const add = (parent, name, text, color, title, isGroup) => {
    const el = chip(text, color, title);
    if (isGroup) el.classList.add("group");
    el.addEventListener("click", (e) => {
      e.stopPropagation();
      if (e.shiftKey && subtractWidget) toggle(subtractWidget, labelsWidget, name);
      else toggle(labelsWidget, subtractWidget, name);
    });
    chips.set(name, el);
    parent.appendChild(el);
  };
  const hint = subtractWidget ? " (shift-click: subtract)" : "";
  const groups = row("groups");
  for (const [group, members] of Object.entries(picker.groups)) {
    add(groups, group, group, null, `group ${group}: ${members.join(", ")}${hint}`, true);
  }
  const labels = row("labels");
  for (const { id, name, display, color } of picker.labels) {
    if (name !== "background") add(labels, name, display || name, color, `${name} (id ${id})${hint}`, false);
  }
  box.append(groups, labels);
  const refresh = () => {
    const on = new Set(splitLabels(labelsWidget.value));
    const off = new Set(splitLabels(subtractWidget?.value));
    for (const [name, el] of chips) {
      el.classList.toggle("on", on.has(name));
      el.classList.toggle("off", off.has(name));
    }
  };
  const widget = node.addDOMWidget("label_picker", "fpliif_picker", box, { getMinHeight: () => 150, hideOnZoom: true });
  widget.serialize = false; // the `labels` and `subtract` texts hold the value
  for (const w of [labelsWidget, subtractWidget].filter(Boolean)) {
    const typed = w.callback;
    w.callback = function (...args) { const r = typed?.apply(this, args); refresh(); return r; };
  }
  const configure = node.onConfigure;
  node.onConfigure = function (...args) { const r = configure?.apply(this, args); refresh(); return r; };
  refresh();
}

function renderLegend(box, items, faces) {
  box.replaceChildren();
  const labels = row(faces ? `${faces}` : "labels");
  for (const item of items) {
    const share = item.share !== undefined ? ` ${(100 * item.share).toFixed(1)}%` : "";
    labels.appendChild(chip(`${item.display || item.name}${share}`, item.color, `${item.name} (id ${item.id})`));
  }
  box.appendChild(labels);
}

function facesText(counts) {
  if (!counts?.length) return "";
  const total = counts.reduce((a, b) => a + b, 0);
  if (counts.length === 1) return counts[0] ? `${counts[0]} face${counts[0] > 1 ? "s" : ""}` : "whole image";
  return `${total} faces in ${counts.length} frames`;
}

function addLegend(node) {
  const box = document.createElement("div");
  box.className = "fpliif-box fpliif-legend";
  if (table) renderLegend(box, table.labels.filter((l) => l.name !== "background"));
  const widget = node.addDOMWidget("label_legend", "fpliif_legend", box, { getMinHeight: () => 80, hideOnZoom: true });
  widget.serialize = false;
  const executed = node.onExecuted;
  node.onExecuted = function (message) {
    executed?.apply(this, arguments);
    if (message?.fpliif_legend?.length) renderLegend(box, message.fpliif_legend, facesText(message.fpliif_faces));
  };
}

app.registerExtension({
  name: "fpliif.labels",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const picker = pickerOf(nodeData);
    if (picker) table = picker;
    if (!picker && nodeData.name !== PARSE_NODE) return;
    addStyle();
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = created?.apply(this, arguments);
      if (picker) addPicker(this, picker);
      else addLegend(this);
      return r;
    };
  },
});
