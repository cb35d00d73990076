// One client's round of API calls against the broker (refresh with rotation, userinfo, introspection, discovery), each answer checked; a refresh token rotated away, and what the broker answers to it.
import type { Agent } from 'node:http';
import { TEST_CLIENT } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';
import { basicAuth, keepAliveAgent, send, type Answer } from './keep-alive-client.js';

export type Operation = 'refresh' | 'userinfo' | 'introspection' | 'discovery';

export interface Held {
  refreshToken: string;
  accessToken: string;
  sub: string;
}

export interface Outcome {
  op: Operation;
  status: number;
  ms: number;
  /** The answer is the right one (a 503 with Retry-After is "unavailable", never "ok"). */
  ok: boolean;
  /** A 503 with a Retry-After header: the broker said "come back", nothing was decided. */
  unavailable: boolean;
  detail: string;
  /** The response asked the client to close its connection. */
  connectionClose: boolean;
}

const client = basicAuth(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret);
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: client };

function outcome(op: Operation, started: number, answer: Answer, ok: boolean): Outcome {
  const unavailable = answer.status === 503 && Number(answer.headers['retry-after']) > 0;
  return { op, status: answer.status, ms: performance.now() - started, ok, unavailable, detail: answer.body.slice(0, 200), connectionClose: answer.headers.connection === 'close' };
}

const json = (answer: Answer): Record<string, unknown> => {
  try {
    return JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** One operation; the held tokens move on after a successful refresh. Throws NoAnswer when no answer came. */
export async function callOnce(op: Operation, base: string, agent: Agent, held: Held): Promise<Outcome> {
  const started = performance.now();
  if (op === 'refresh') {
    const answer = await send(agent, `${base}/token`, { method: 'POST', headers: form, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held.refreshToken }).toString() });
    const body = json(answer);
    const ok = answer.status === 200 && typeof body.refresh_token === 'string' && typeof body.access_token === 'string';
    if (ok) {
      held.refreshToken = body.refresh_token as string;
      held.accessToken = body.access_token as string;
    }
    return outcome(op, started, answer, ok);
  }
  if (op === 'userinfo') {
    const answer = await send(agent, `${base}/me`, { headers: { authorization: `Bearer ${held.accessToken}` } });
    return outcome(op, started, answer, answer.status === 200 && json(answer).sub === held.sub);
  }
  if (op === 'introspection') {
    const answer = await send(agent, `${base}/token/introspection`, { method: 'POST', headers: form, body: new URLSearchParams({ token: held.accessToken }).toString() });
    const body = json(answer);
    return outcome(op, started, answer, answer.status === 200 && body.active === true && body.sub === held.sub);
  }
  const answer = await send(agent, `${base}/.well-known/openid-configuration`);
  return outcome(op, started, answer, answer.status === 200 && typeof json(answer).issuer === 'string');
}

export const ROUND: readonly Operation[] = ['refresh', 'userinfo', 'introspection', 'discovery'];

/** A local sign-in with offline_access through the broker at `issuer`: the tokens a client then holds. */
export async function signIn(issuer: string): Promise<Held> {
  const { tokens } = await loginAndExchange(issuer, { params: { scope: 'openid email offline_access', prompt: 'consent' } });
  return { refreshToken: tokens.refresh_token!, accessToken: tokens.access_token, sub: tokens.claims()!.sub };
}

/** Rotates the held refresh token once (the held tokens move on); returns the token it replaced, which the broker must refuse from then on. */
export async function spendRefreshToken(base: string, held: Held): Promise<string> {
  const spent = held.refreshToken;
  const agent = keepAliveAgent();
  const result = await callOnce('refresh', base, agent, held).finally(() => agent.destroy());
  if (!result.ok) throw new Error(`refresh answered ${result.status}: ${result.detail}`);
  return spent;
}

/** The broker's answer to a refresh grant with `refreshToken`, as "status error" ("400 invalid_grant"; "200 undefined" when it was accepted). */
export async function refreshAnswer(base: string, refreshToken: string): Promise<string> {
  const agent = keepAliveAgent();
  const answer = await send(agent, `${base}/token`, { method: 'POST', headers: form, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString() }).finally(() => agent.destroy());
  return `${answer.status} ${String(json(answer).error)}`;
}
