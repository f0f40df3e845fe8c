// The fixed-rate load generator (pacedLoad), usable in this process or, through
// pacedLoadInChild, in a small process of its own: the benchmark process holds databases,
// autocannon's results and the model it built, and its own garbage-collection pauses would
// otherwise be counted as the server's latency.
import { spawn } from 'node:child_process';
import http from 'node:http';
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
  const latencies = [];
  let errors = 0;
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
        sent++;
        const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            latencies.push(performance.now() - scheduled);
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
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(2));
  return { offered: rate, achieved: latencies.length / elapsed, count: latencies.length, errors, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
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

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk) => (input += chunk));
  process.stdin.on('end', async () => {
    process.stdout.write(JSON.stringify(await pacedLoad(JSON.parse(input))));
  });
}
