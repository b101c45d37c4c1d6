// Runs `cli.ts` in a subprocess with the training permissions, for the end-to-end tests.

/** Path of the command line entry point. */
export const CLI: string = new URL("../cli.ts", import.meta.url).pathname;
/** The permissions `pretrain`, `embed` and `eval_knn` document. */
export const PERMS: string[] = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"];

/** `deno run <PERMS> cli.ts ...args`: exit code and captured output. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("deno", {
    args: ["run", ...PERMS, CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}
