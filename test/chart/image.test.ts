/**
 * The container image, without a Docker engine: read the Dockerfile, assert its shape (the
 * properties the chart and the operator rely on), then replay its build in temporary folders
 * — COPY what the build context allows (.dockerignore), RUN the build stages' npm steps,
 * assemble the runtime stage from `COPY --from` — and run the result with Node 24.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { copyPaths, dockerIgnore, execForm, last, parseDockerfile, type Stage } from './support/dockerfile.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const dockerfile = parseDockerfile(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
const ignored = dockerIgnore(readFileSync(join(repo, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
// The project's pinned Node 24 (the `node` devDependency), never the system node.
const node24 = join(repo, 'node_modules', 'node', 'bin', 'node');

const finalStage = (): Stage => {
  const s = dockerfile.stages.at(-1);
  if (s === undefined) throw new Error('Dockerfile has no stage');
  return s;
};
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (s === undefined) throw new Error(`Dockerfile has no stage "${name}"`);
  return s;
};
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('the Dockerfile', () => {
  test('is multi-stage and every stage starts from the pinned Node 24 slim image', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const pinned = pkg.devDependencies['node'];
    expect(dockerfile.args['NODE_VERSION']).toBe(pinned);
    expect(pinned).toMatch(/^24\./);
    for (const s of dockerfile.stages) expect(s.base).toBe(`node:${pinned}-bookworm-slim`);
  });

  test('builds with the dev dependencies in a build stage that the runtime only copies from', () => {
    const builders = dockerfile.stages.filter((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(builders.length).toBe(1);
    expect(runs(builders[0]!).some((r) => /\bnpm ci\b(?!.*--omit=dev)/.test(r))).toBe(true);
    expect(builders[0]).not.toBe(finalStage());
  });

  test('the runtime stage has production dependencies only and no build tools', () => {
    const rt = finalStage();
    const text = runs(rt).join('\n');
    expect(text).not.toMatch(/npm (ci|install|run)/);
    expect(text).not.toMatch(/apt-get install|apk add/);
    // npm and npx are deleted from the runtime image.
    expect(text).toMatch(/rm -rf [^\n]*\/usr\/local\/lib\/node_modules\/npm/);
    // node_modules comes from a stage that installed with --omit=dev.
    const nm = rt.instructions.find((i) => i.op === 'COPY' && copyPaths(i.args).dest.replace(/\/$/, '').endsWith('node_modules'));
    expect(nm?.flags['from']).toBeDefined();
    expect(runs(stage(nm!.flags['from']!)).join('\n')).toMatch(/npm ci [^\n]*--omit=dev/);
  });

  test('the runtime runs as a numeric non-root user', () => {
    const user = last(finalStage(), 'USER')?.args ?? '';
    const [uid, gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/); // numeric, so Kubernetes runAsNonRoot can check it
    expect(Number(uid)).toBe(10001);
    expect(gid === undefined || Number(gid) > 0).toBe(true);
  });

  test('the entrypoint is the CLI and `ladder` is on PATH for the worker pods', () => {
    expect(execForm(last(finalStage(), 'ENTRYPOINT')?.args ?? '')).toEqual(['node', '/app/dist/cli/main.js']);
    expect(runs(finalStage()).join('\n')).toMatch(/> \/usr\/local\/bin\/ladder\b/);
  });

  test('.dockerignore keeps node_modules, dist, logs and env files out of the context', () => {
    for (const p of ['node_modules/x/index.js', 'dist/cli/main.js', 'src/node_modules/a', 'a.log', '.env', '.git/config', 'test/x.test.ts'])
      expect([p, ignored(p)]).toEqual([p, true]);
    for (const p of ['package.json', 'package-lock.json', 'src/cli/main.ts', 'tsconfig.build.json']) expect([p, ignored(p)]).toEqual([p, false]);
  });
});

describe('the image, built without Docker by replaying the Dockerfile', () => {
  let root = '';
  let runtimeApp = '';
  let ladderBin = '';
  const folders = new Map<string, string>(); // stage name -> its filesystem root

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ladder-image-'));
    // Independent stages build concurrently, as BuildKit does; a stage waits for those it copies from.
    const built = new Map<string, Promise<void>>();
    for (const s of dockerfile.stages.slice(0, -1)) {
      const needs = s.instructions.flatMap((i) => (i.flags['from'] !== undefined ? [built.get(i.flags['from'])] : []));
      built.set(s.name, Promise.all(needs).then(() => replayBuildStage(s)));
    }
    await Promise.all(built.values());
    ({ app: runtimeApp, bin: ladderBin } = assembleRuntime(finalStage()));
  }, 240_000);
  afterAll(() => {
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  /** Where an absolute path inside a stage lives on this machine. */
  function hostPath(stageName: string, p: string): string {
    const base = folders.get(stageName);
    if (base === undefined) throw new Error(`stage ${stageName} not built`);
    return join(base, p);
  }

  /** COPY from the build context: a folder's contents go into `to`; a file goes to `to`, or into it. */
  function copyFromContext(rel: string, to: string, intoDir: boolean): void {
    const src = join(repo, rel);
    if (statSync(src).isDirectory()) {
      for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = posix.join(rel, posix.relative(src, join(entry.parentPath, entry.name)));
        if (ignored(file)) continue;
        const target = join(to, posix.relative(rel, file));
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(repo, file), target);
      }
    } else if (!ignored(rel)) {
      const target = intoDir ? join(to, posix.basename(rel)) : to;
      mkdirSync(dirname(target), { recursive: true });
      cpSync(src, target);
    } else {
      throw new Error(`COPY ${rel}: excluded by .dockerignore, the docker build would fail`);
    }
  }

  /** COPY (from the context or `--from` a stage) into the stage's filesystem. */
  function copy(stageName: string, workdir: string, args: string, from: string | undefined): void {
    const { sources, dest } = copyPaths(args);
    const to = hostPath(stageName, posix.resolve(workdir, dest));
    const intoDir = sources.length > 1 || dest.endsWith('/') || dest === '.';
    for (const src of sources) {
      if (from === undefined) copyFromContext(src, to, intoDir);
      else {
        const origin = hostPath(from, src);
        const target = intoDir && !statSync(origin).isDirectory() ? join(to, posix.basename(src)) : to;
        mkdirSync(dirname(target), { recursive: true });
        cpSync(origin, target, { recursive: true });
      }
    }
  }

  async function replayBuildStage(s: Stage): Promise<void> {
    const fsRoot = join(root, s.name);
    folders.set(s.name, fsRoot);
    let workdir = '/';
    for (const ins of s.instructions) {
      if (ins.op === 'WORKDIR') {
        workdir = posix.resolve(workdir, ins.args);
        mkdirSync(hostPath(s.name, workdir), { recursive: true });
      }
      else if (ins.op === 'COPY') copy(s.name, workdir, ins.args, ins.flags['from']);
      else if (ins.op === 'RUN') {
        for (const step of ins.args.split('&&').map((x) => x.trim())) {
          // Only npm steps are replayed; cleaning the npm cache would wipe this machine's.
          if (/^npm cache clean/.test(step)) continue;
          expect(step).toMatch(/^npm (ci|run build)\b/);
          await run('sh', ['-c', step], {
            cwd: hostPath(s.name, workdir),
            env: {
              ...process.env,
              PATH: `${dirname(node24)}:${process.env['PATH'] ?? ''}`,
              npm_config_prefer_offline: 'true',
              npm_config_update_notifier: 'false',
            },
            maxBuffer: 64 * 1024 * 1024,
          });
        }
      }
    }
  }

  function assembleRuntime(s: Stage): { app: string; bin: string } {
    const fsRoot = join(root, s.name);
    folders.set(s.name, fsRoot);
    let workdir = '/';
    for (const ins of s.instructions) {
      if (ins.op === 'WORKDIR') {
        workdir = posix.resolve(workdir, ins.args);
        mkdirSync(hostPath(s.name, workdir), { recursive: true });
      }
      if (ins.op === 'COPY') copy(s.name, workdir, ins.args, ins.flags['from']);
    }
    // The `ladder` wrapper: its printf (never the whole RUN, which edits /usr/local) with paths
    // moved into the temporary root.
    const m = /printf '((?:[^'])*)' > \/usr\/local\/bin\/ladder/.exec(runs(s).join('\n'));
    if (m === null) throw new Error('runtime stage does not write /usr/local/bin/ladder with printf');
    const bin = join(fsRoot, 'usr/local/bin/ladder');
    mkdirSync(dirname(bin), { recursive: true });
    writeFileSync(bin, (m[1] ?? '').replaceAll('\\n', '\n').replaceAll('/app/', `${join(fsRoot, 'app')}/`));
    chmodSync(bin, 0o755);
    return { app: join(fsRoot, 'app'), bin };
  }

  const runtimeEnv = () => ({ PATH: `${dirname(node24)}:/usr/bin:/bin`, NODE_ENV: 'production', HOME: root });

  test('the runtime has exactly the production dependencies of the lockfile', () => {
    const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, p]) => p.dev === true).map(([path]) => path);
    const prod = entries.filter(([, p]) => p.dev !== true && p.optional !== true && p.devOptional !== true).map(([path]) => path);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/typescript', 'node_modules/jest', 'node_modules/node']));
    expect(devOnly.filter((path) => existsSync(join(runtimeApp, path)))).toEqual([]);
    expect(prod.filter((path) => !existsSync(join(runtimeApp, path)))).toEqual([]);
    for (const dep of Object.keys(pkg.dependencies)) expect(prod).toContain(`node_modules/${dep}`);
    expect(existsSync(join(runtimeApp, 'node_modules', '.bin', 'node'))).toBe(false);
    expect(existsSync(join(runtimeApp, 'src'))).toBe(false);
    expect(existsSync(join(runtimeApp, 'dist', 'cli', 'main.js'))).toBe(true);
  });

  test('the entrypoint prints the usage', async () => {
    const entry = execForm(last(finalStage(), 'ENTRYPOINT')?.args ?? '') ?? [];
    const script = entry[1]!.replace(/^\/app\//, `${runtimeApp}/`);
    const { stdout } = await run(node24, [script, '--help'], { cwd: runtimeApp, env: runtimeEnv() });
    expect(stdout).toMatch(/^Usage: ladder <command>/m);
    expect(stdout).toMatch(/^\s+operator\s/m);
    expect(stdout).toMatch(/^\s+worker\s/m);
  });

  test('`ladder worker --help` and `ladder operator --help` work through the wrapper on PATH', async () => {
    const env = { ...runtimeEnv(), PATH: `${dirname(ladderBin)}:${runtimeEnv().PATH}` };
    const worker = await run('ladder', ['worker', '--help'], { cwd: '/', env });
    expect(worker.stdout).toMatch(/ladder worker/);
    expect(worker.stdout).toMatch(/--health-port/);
    const operator = await run('ladder', ['operator', '--help'], { cwd: '/', env });
    expect(operator.stdout).toMatch(/ladder operator/);
    expect(operator.stdout).toMatch(/--namespaces/);
  });
});
