// Checks an Authorization: Bearer header against the metrics token in constant time (RFC 6750 section 2.1).
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** A checker for `token`; with no token every request passes (the listener's address is the protection). */
export function bearerCheck(token: string | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization ?? '');
    // Both sides are hashed to 32 bytes, so the comparison takes the same time whatever the length sent.
    return timingSafeEqual(digest(match?.[1] ?? ''), expected);
  };
}
