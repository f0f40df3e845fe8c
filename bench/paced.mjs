// The fixed-rate load generator (pacedLoad), usable in this process or, through
// pacedLoadInChild, in a small process of its own: the benchmark process holds databases,
// autocannon's results and the model it built, and its own garbage-collection pauses would
// otherwise be counted as the server's latency.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/**
 * An open-model load at a fixed offered rate: request i is sent at start + i / rate (not in
 * bursts), over keep-alive connections, and its latency is measured from that scheduled time,
 * so a stalled server is charged for the requests it delayed (no coordinated omission).
 * `bodies` are POSTed to `url` in turn. Resolves with latency percentiles in milliseconds.
 */
export async function pacedLoad({ url, headers, bodies, rate, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  // Per request: when it was due (ms from the start) and how long it took, to find stalls.
  const due = new Float64Array(total);
  const took = new Float64Array(total).fill(Number.NaN);
  // How late this process sent it: a stall whose requests went out late is the generator's.
  const sendLag = new Float64Array(total);
  let errors = 0;
  // This process's own event-loop delay: a stall here would be charged to the server.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  await new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const finish = () => {
      if (++done === total) resolve();
    };
    const fire = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        const scheduled = start + sent * interval;
        const body = bodies[sent % bodies.length];
        const index = sent;
        due[index] = scheduled - start;
        sendLag[index] = now - scheduled;
        sent++;
        const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            took[index] = performance.now() - scheduled;
            finish();
          });
        });
        req.on('error', () => {
          errors++;
          finish();
        });
        req.end(body);
      }
      if (sent < total) setTimeout(fire, Math.max(0, start + sent * interval - performance.now()));
    };
    fire();
  });
  const elapsed = (performance.now() - start) / 1000;
  loop.disable();
  agent.destroy();
  const latencies = Array.from(took.filter((ms) => !Number.isNaN(ms))).sort((a, b) => a - b);
  const at = (q) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(2));
  return {
    offered: rate,
    achieved: latencies.length / elapsed,
    count: latencies.length,
    errors,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: at(1),
    startedAt: performance.timeOrigin + start,
    generatorLoopDelayMaxMs: Number((loop.max / 1e6).toFixed(2)),
    stalls: stalls(due, took, sendLag, 20),
  };
}

/**
 * Runs of requests that took longer than `limitMs`, merged when they overlap: when each began
 * (ms from the start), how long it lasted, how many requests it held, the longest wait and how
 * late the generator itself sent the latest of them.
 */
function stalls(due, took, sendLag, limitMs) {
  const out = [];
  for (let i = 0; i < due.length; i++) {
    if (!(took[i] > limitMs)) continue;
    const from = due[i];
    const to = due[i] + took[i];
    const last = out[out.length - 1];
    if (last && from <= last.from + last.ms) {
      last.ms = Math.max(last.ms, to - last.from);
      last.requests++;
      last.longest = Math.max(last.longest, took[i]);
      last.sendLag = Math.max(last.sendLag, sendLag[i]);
    } else {
      out.push({ from, ms: to - from, requests: 1, longest: took[i], sendLag: sendLag[i] });
    }
  }
  return out.map((s) => ({ from: Math.round(s.from), ms: Math.round(s.ms), requests: s.requests, longest: Math.round(s.longest), sentLateMs: Math.round(s.sendLag) }));
}

/**
 * A process that does nothing but wake every millisecond and note how late it woke: lateness
 * here while the server stalls means the machine, not the server, held everyone up.
 * Returns stop(), which resolves with the wake-ups later than `limitMs` (ms from the start).
 */
export function machineProbe(limitMs = 20) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--probe', String(limitMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  return {
    /** Ends the probe; late wake-ups with `at` in ms since the epoch. */
    async stop() {
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
      return JSON.parse(out).late;
    },
  };
}

/** pacedLoad run by a fresh Node process (this file with --child); same options and result. */
export function pacedLoadInChild(options) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`the load generator exited with ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(JSON.stringify(options));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--probe') {
  const limit = Number(process.argv[3]);
  const late = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last - 1 > limit) late.push({ at: Math.round(performance.timeOrigin + last), ms: Math.round(now - last) });
    last = now;
  }, 1);
  process.stdin.resume();
  process.stdin.on('end', () => {
    clearInterval(timer);
    process.stdout.write(JSON.stringify({ late }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk) => (input += chunk));
  process.stdin.on('end', async () => {
    process.stdout.write(JSON.stringify(await pacedLoad(JSON.parse(input))));
  });
}
