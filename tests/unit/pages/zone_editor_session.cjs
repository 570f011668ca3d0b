// Runs edge/zone_editor.html's script in jsdom against a stand-in server and prints, as JSON, what
// an installer's session did: load the camera's zones, drag a point of one, draw a new zone with
// clicks, finish it, save. Usage: node zone_editor_session.cjs PAGE.html
// The canvas is drawn on a do-nothing 2D context (jsdom has none) and shown at half size, so a
// click at screen (x, y) is picture pixel (2x, 2y).
const { JSDOM } = require("jsdom");
const fs = require("fs");

const STATE = {
  width: 320, height: 240, output: "/tmp/out.yaml", camera: "cam-1",
  zones: [{ id: "bay", kind: "no_parking", polygon: [[200, 60], [280, 60], [280, 140]], parking: { limit_s: 60 } }],
};
const requests = [], alerts = [];
const dom = new JSDOM(fs.readFileSync(process.argv[2], "utf8"), {
  runScripts: "dangerously", pretendToBeVisual: true, url: "http://127.0.0.1:8765/",
  beforeParse(window) {
    const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : () => {}), set: (t, k, v) => { t[k] = v; return true; } });
    window.HTMLCanvasElement.prototype.getContext = () => ctx;
    window.HTMLCanvasElement.prototype.getBoundingClientRect = function () {
      return { left: 0, top: 0, width: this.width / 2, height: this.height / 2 };
    };
    window.alert = message => alerts.push(message);
    window.confirm = () => true;
    window.fetch = async (url, options = {}) => {
      const method = options.method || "GET";
      requests.push({ method, url, body: options.body ? JSON.parse(options.body) : null });
      if (method === "GET") return { ok: true, json: async () => STATE };
      return { ok: false, json: async () => ({ problems: ["zone lane: a problem"], yaml: "zones: []\n" }) };
    };
    // jsdom loads no images: report the picture loaded as soon as its address is set.
    Object.defineProperty(window.HTMLImageElement.prototype, "src", {
      set() { setTimeout(() => this.onload && this.onload(), 0); },
    });
  },
});
const { document } = dom.window;
const canvas = document.getElementById("picture");
const tick = () => new Promise(resolve => setTimeout(resolve, 20));
// Wait for the page rather than for a fixed time: on a loaded machine its fetch and picture take longer.
const until = async (ready, what) => {
  for (const deadline = Date.now() + 10000; !ready(); await tick()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
};
const mouse = (type, x, y) => canvas.dispatchEvent(new dom.window.MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
const click = (x, y) => { mouse("mousedown", x, y); mouse("mouseup", x, y); mouse("click", x, y); };
const listed = () => [...document.querySelectorAll("#zones li")].map(li => li.textContent);

(async () => {
  await until(() => listed().length > 0, "the saved zones to be listed");
  const result = { canvas: [canvas.width, canvas.height], listed_at_start: listed() };
  mouse("mousedown", 100, 30); mouse("mousemove", 105, 35); mouse("mouseup", 105, 35); mouse("click", 105, 35);
  result.points_after_drag = Number(document.getElementById("points").textContent);
  document.getElementById("finish").click();  // too few points: refused
  document.getElementById("zone-id").value = "lane";
  document.getElementById("zone-kind").value = "fire_lane";
  for (const [x, y] of [[5, 100], [150, 100], [150, 115]]) click(x, y);
  document.getElementById("finish").click();
  result.listed_after_finish = listed();
  document.getElementById("save").click();
  await until(() => document.querySelectorAll("#problems li").length > 0, "the save's problems to be shown");
  result.requests = requests;
  result.problems_shown = [...document.querySelectorAll("#problems li")].map(li => li.textContent);
  result.yaml_shown = document.getElementById("yaml").textContent;
  result.alerts = alerts;
  console.log(JSON.stringify(result));
})().catch(error => { console.error(error); process.exit(1); });
