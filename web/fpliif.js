// FP-LIIF face parsing: a colour-coded label picker on "FP-LIIF Labels to Mask" and a label legend on
// "FP-LIIF Parse Faces". The picker edits the node's comma-separated `labels` text, which stays the source
// of truth (it is what the workflow saves and what the Python node reads); the picker itself is not saved.
import { app } from "../../scripts/app.js";

const PICKER_NODE = "FPLIIF_LabelsToMask";
const PARSE_NODE = "FPLIIF_ParseFaces";
let table = null; // {labels: [{name, color}], groups: {name: [members]}} from the node definition

const STYLE = `
.fpliif-box{display:flex;flex-wrap:wrap;align-content:flex-start;align-items:flex-start;gap:3px;padding:3px;font:11px sans-serif;overflow-y:auto;box-sizing:border-box;width:100%}
.fpliif-chip{display:inline-flex;align-items:center;gap:3px;padding:1px 5px;border-radius:8px;cursor:pointer;
  border:1px solid #555;color:#ddd;background:#2a2a2a;user-select:none;white-space:nowrap}
.fpliif-chip.on{background:#3d5a80;border-color:#9cc3ff;color:#fff}
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

const splitLabels = (text) => String(text || "").split(/[,;]/).map((s) => s.trim().toLowerCase()).filter(Boolean);

function addPicker(node) {
  const labelsWidget = node.widgets?.find((w) => w.name === "labels");
  if (!labelsWidget || !table) return;
  const box = document.createElement("div");
  box.className = "fpliif-box";
  const chips = new Map();
  const toggle = (name) => {
    const chosen = splitLabels(labelsWidget.value);
    const next = chosen.includes(name) ? chosen.filter((n) => n !== name) : [...chosen, name];
    labelsWidget.value = next.join(",");
    labelsWidget.callback?.(labelsWidget.value);
    refresh();
    node.setDirtyCanvas(true, true);
  };
  const add = (name, color, title, isGroup) => {
    const el = chip(name, color, title);
    if (isGroup) el.classList.add("group");
    el.addEventListener("click", (e) => { e.stopPropagation(); toggle(name); });
    chips.set(name, el);
    box.appendChild(el);
  };
  for (const [group, members] of Object.entries(table.groups)) add(group, null, `group: ${members.join(", ")}`, true);
  for (const { name, color } of table.labels) if (name !== "background") add(name, color, name, false);
  const refresh = () => {
    const chosen = new Set(splitLabels(labelsWidget.value));
    for (const [name, el] of chips) el.classList.toggle("on", chosen.has(name));
  };
  const widget = node.addDOMWidget("label_picker", "fpliif_picker", box, { getMinHeight: () => 130, hideOnZoom: true });
  widget.serialize = false; // the `labels` text holds the value
  const typed = labelsWidget.callback;
  labelsWidget.callback = function (...args) { const r = typed?.apply(this, args); refresh(); return r; };
  const configure = node.onConfigure;
  node.onConfigure = function (...args) { const r = configure?.apply(this, args); refresh(); return r; };
  refresh();
}

function renderLegend(box, items) {
  box.replaceChildren();
  for (const item of items) {
    const share = item.share !== undefined ? ` ${(100 * item.share).toFixed(1)}%` : "";
    box.appendChild(chip(`${item.name}${share}`, item.color, item.name));
  }
}

function addLegend(node) {
  const box = document.createElement("div");
  box.className = "fpliif-box fpliif-legend";
  if (table) renderLegend(box, table.labels.filter((l) => l.name !== "background"));
  const widget = node.addDOMWidget("label_legend", "fpliif_legend", box, { getMinHeight: () => 72, hideOnZoom: true });
  widget.serialize = false;
  const executed = node.onExecuted;
  node.onExecuted = function (message) {
    executed?.apply(this, arguments);
    if (message?.fpliif_legend?.length) renderLegend(box, message.fpliif_legend);
  };
}

app.registerExtension({
  name: "fpliif.labels",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name === PICKER_NODE) {
      table = nodeData.input?.required?.labels?.[1]?.fpliif_picker || table;
    }
    if (nodeData.name !== PICKER_NODE && nodeData.name !== PARSE_NODE) return;
    addStyle();
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = created?.apply(this, arguments);
      if (nodeData.name === PICKER_NODE) addPicker(this);
      else addLegend(this);
      return r;
    };
  },
});
