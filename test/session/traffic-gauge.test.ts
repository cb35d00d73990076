// The traffic gauge the sweep yields to: busy while a request is answered and for a moment after, idle otherwise (real Koa over real HTTP).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrafficGauge } from '../../src/session/traffic-gauge.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('traffic gauge', () => {
  it('is busy while requests are in flight and for 2 ms after the last one, then idle', async () => {
    let t = 1000;
    const gauge = createTrafficGauge(() => t);
    const app = new Koa();
    app.use(gauge.middleware);
    const seen: boolean[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    app.use(async (ctx) => {
      seen.push(gauge.busy());
      if (ctx.path === '/slow') await held;
      ctx.body = 'ok';
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    expect(gauge.busy()).toBe(false);
    const slow = fetch(`${base}/slow`);
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(gauge.busy()).toBe(true);
    // A second request while the first is held: still busy after it is answered.
    expect(await (await fetch(`${base}/fast`)).text()).toBe('ok');
    t += 10;
    expect(gauge.busy()).toBe(true);
    release();
    expect(await (await slow).text()).toBe('ok');
    expect(seen).toEqual([true, true]);
    // Just answered: busy for a moment, idle once 2 ms have passed.
    expect(gauge.busy()).toBe(true);
    t += 1.9;
    expect(gauge.busy()).toBe(true);
    t += 0.1;
    expect(gauge.busy()).toBe(false);
  });

  it('whenIdle() settles at once when idle, and otherwise as soon as the last request in flight has ended and 2 ms have passed', async () => {
    const gauge = createTrafficGauge();
    const app = new Koa();
    app.use(gauge.middleware);
    const releases: (() => void)[] = [];
    let entered = 0;
    app.use(async (ctx) => {
      entered += 1;
      await new Promise<void>((resolve) => releases.push(resolve));
      ctx.body = 'ok';
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    let settled = false;
    await gauge.whenIdle().then(() => (settled = true));
    expect(settled).toBe(true);
    const first = fetch(`${base}/a`);
    const second = fetch(`${base}/b`);
    while (entered < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    let idleAt = -1;
    const idle = gauge.whenIdle().then(() => (idleAt = performance.now()));
    // One of two requests answered: still waiting.
    releases[0]!();
    await (await first).text();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(idleAt).toBe(-1);
    releases[1]!();
    await (await second).text();
    const endedBy = performance.now();
    await idle;
    expect(gauge.busy()).toBe(false);
    // Settled by the gauge's own timer right after the quiet moment, not by a distant poll.
    expect(idleAt - endedBy).toBeLessThan(50);
  });

  it('counts a request that fails as ended', async () => {
    let t = 0;
    const gauge = createTrafficGauge(() => t);
    const app = new Koa();
    app.silent = true;
    app.use(gauge.middleware);
    app.use(() => {
      throw new Error('boom');
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    expect((await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).status).toBe(500);
    t += 5;
    expect(gauge.busy()).toBe(false);
  });
});
