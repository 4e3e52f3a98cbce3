/**
 * A minimal Dockerfile reader for the image test: enough of the syntax (line continuations,
 * comments, ARG substitution, stages, JSON/shell forms) to assert the Dockerfile's shape and
 * to replay its build steps outside Docker. Not a general parser.
 */
export interface Instruction {
  op: string; // upper-case keyword: FROM, COPY, RUN, ...
  args: string; // the rest of the line, continuations joined
  flags: Record<string, string>; // --from=build, --chmod=0755 (COPY/ADD)
  line: number; // 1-based line of the keyword
}

export interface Stage {
  name: string; // "AS" name, or the index as a string
  base: string; // FROM image, with ARGs substituted
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Record<string, string>; // global ARG defaults (before the first FROM)
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const logical: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (buf === '' && /^\s*(#|$)/.test(raw)) continue; // comment or blank outside an instruction
    if (buf !== '' && /^\s*#/.test(raw)) continue; // comment inside a continued instruction
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    logical.push({ text: (buf + raw).trim(), line: start });
    buf = '';
  }
  if (buf !== '') logical.push({ text: buf.trim(), line: start });

  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(l);
    if (!m) continue;
    const op = (m[1] ?? '').toUpperCase();
    let rest = m[2] ?? '';
    const flags: Record<string, string> = {};
    if (op === 'COPY' || op === 'ADD') {
      let f: RegExpExecArray | null;
      while ((f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) !== null) {
        flags[f[1] ?? ''] = f[2] ?? '';
        rest = rest.slice(f[0].length);
      }
    }
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=', 2);
      args[(k ?? '').trim()] = (v ?? '').trim();
      continue;
    }
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest.trim());
      if (!fm) throw new Error(`line ${line}: cannot read FROM ${rest}`);
      const base = (fm[1] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args[a ?? b] ?? '');
      stages.push({ name: fm[2] ?? String(stages.length), base, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`line ${line}: ${op} before FROM`);
    stage.instructions.push({ op, args: rest, flags, line });
  }
  return { args, stages };
}

/** JSON (exec) form of ENTRYPOINT/CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Sources and destination of a COPY in shell form (`COPY a b ./dest`). */
export function copyPaths(args: string): { sources: string[]; dest: string } {
  const parts = execForm(args) ?? args.split(/\s+/).filter((p) => p !== '');
  if (parts.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { sources: parts.slice(0, -1), dest: parts.at(-1) ?? '' };
}

/** The last instruction of a kind in a stage (USER, ENTRYPOINT, WORKDIR...). */
export function last(stage: Stage, op: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.op === op).at(-1);
}

/**
 * `.dockerignore` semantics (the subset we use): patterns in order, `!` re-includes, the last
 * match wins, `**` matches any number of path segments, `*` within a segment.
 */
export function dockerIgnore(text: string): (relPath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: globToRegExp(pat) };
    });
  return (relPath) => {
    // As Docker does: a pattern that matches a parent folder matches everything inside it.
    const segments = relPath.split('/');
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (candidates.some((c) => r.re.test(c))) ignored = !r.negate;
    return ignored;
  };
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` = zero or more directories; a trailing `**` = everything below.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
