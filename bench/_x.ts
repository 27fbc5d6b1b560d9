import { Store } from "../store/store.ts";
import { readLogAhead } from "../store/read_ahead.ts";
import { evolve, initialRouterState } from "../actors/router/router_state.ts";
const store = Store.open("/tmp/rsplit.sqlite");
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  let s = initialRouterState("b");
  for await (const evs of readLogAhead(store)) for (const e of evs) evolve(s, e);
  const ahead = performance.now() - t0;
  t0 = performance.now();
  s = initialRouterState("b");
  for (const e of store.readEvents()) evolve(s, e);
  const sync = performance.now() - t0;
  console.log({ ahead: Math.round(ahead), sync: Math.round(sync) });
}
