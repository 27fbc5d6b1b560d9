/**
 * Lint plugin (`deno lint`, rule `socp/function-length`): no product function longer than
 * {@linkcode MAX_LINES} lines. Tests (`*_test.ts`, `tests/`) and test-only modules (`_*.ts`)
 * are not product code. The functions that are longer today are listed in
 * {@linkcode ALLOWED} with their current length: one that grows is reported, and so is an
 * entry that is no longer needed (the function is short enough, or gone), so the list only
 * shrinks.
 * @module
 */

/** The longest a product function may be, in lines, from its signature to its closing brace. */
const MAX_LINES = 70;

/** `path:name` → the length it has now and may not exceed. */
const ALLOWED: Record<string, number> = {
  "bench/cluster.ts:startBenchServer": 91,
  "bench/main.ts:runBench": 108,
  "bench/replay_bench.ts:writeEventMix": 137,
  "bench/scenarios.ts:fileTransfer": 95,
  "bench/scenarios.ts:idleMemory": 143,
  "bench/scenarios.ts:joinPropagation": 85,
  "bench/scenarios.ts:publicChannel": 71,
  "client/login.ts:passwordLogin": 75,
  "crypto/openssl.ts:makeBackend": 314,
  "crypto/webcrypto.ts:createWebCryptoBackend": 123,
  "web/src/main.ts:wireWelcome": 102,
};

const ROOT = new URL("../", import.meta.url).pathname;

const FUNCTION_TYPES = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
]);

type Fn =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** A repository path, or undefined when the file is not product code. */
function productPath(filename: string): string | undefined {
  const path = filename.startsWith(ROOT) ? filename.slice(ROOT.length) : filename;
  const base = path.split("/").pop()!;
  if (path.startsWith("tests/") || base.endsWith("_test.ts") || base.startsWith("_")) {
    return undefined;
  }
  return path;
}

function keyName(key: Deno.lint.Node): string | undefined {
  if (key.type === "Identifier") return key.name;
  if (key.type === "PrivateIdentifier") return `#${key.name}`;
  if (key.type === "Literal") return String(key.value);
  return undefined;
}

/** A readable name: `f`, `Class.method`, `outer>inner`, or `outer>(callback)`. */
function nameOf(node: Fn): string {
  const parent = node.parent;
  let own: string | undefined;
  if (node.type !== "ArrowFunctionExpression" && node.id) own = node.id.name;
  else if (parent.type === "VariableDeclarator" && parent.id.type === "Identifier") {
    own = parent.id.name;
  } else if (parent.type === "MethodDefinition" || parent.type === "PropertyDefinition") {
    const cls = parent.parent.parent;
    const className = "id" in cls && cls.id?.type === "Identifier" ? cls.id.name : "(class)";
    own = `${className}.${keyName(parent.key) ?? "?"}`;
  } else if (parent.type === "Property") own = keyName(parent.key);
  const outer = enclosing(node);
  return outer === undefined ? own ?? "(callback)" : `${outer}>${own ?? "(callback)"}`;
}

/** The name of the function that contains `node`, if any. */
function enclosing(node: Fn): string | undefined {
  // The AST's parent types form no single union; only `type` and `parent` are read here.
  type Up = { type: string; parent?: Up | null };
  for (let n = node.parent as Up | null | undefined; n != null; n = n.parent) {
    if (FUNCTION_TYPES.has(n.type)) return nameOf(n as unknown as Fn);
  }
  return undefined;
}

const plugin: Deno.lint.Plugin = {
  name: "socp",
  rules: {
    "function-length": {
      create(ctx) {
        const path = productPath(ctx.filename);
        if (path === undefined) return {};
        const text = ctx.sourceCode.text;
        const seen = new Set<string>();
        const check = (node: Fn) => {
          const [start, end] = node.range;
          const lines = text.slice(start, end).split("\n").length;
          const key = `${path}:${nameOf(node)}`;
          seen.add(key);
          const allowed = ALLOWED[key];
          if (allowed === undefined && lines > MAX_LINES) {
            ctx.report({
              node,
              message: `${key} is ${lines} lines (at most ${MAX_LINES})`,
              hint:
                "Extract named helpers; the allow-list in tools/lint_function_length.ts only shrinks.",
            });
          } else if (allowed !== undefined && lines > allowed) {
            ctx.report({ node, message: `${key} grew to ${lines} lines (allowed ${allowed})` });
          } else if (allowed !== undefined && lines <= MAX_LINES) {
            ctx.report({
              node,
              message: `${key} is ${lines} lines now: drop it from ALLOWED`,
            });
          }
        };
        const gone = (program: Deno.lint.Program) => {
          for (const key of Object.keys(ALLOWED)) {
            if (key.startsWith(`${path}:`) && !seen.has(key)) {
              ctx.report({ node: program, message: `${key} is gone: drop it from ALLOWED` });
            }
          }
        };
        return {
          "Program:exit": gone,
          FunctionDeclaration: check,
          FunctionExpression: check,
          ArrowFunctionExpression: check,
        };
      },
    },
  },
};

export default plugin;
