// The JSON text both stores write: values, and the field pairs a claim appends to a stored object.

/** JSON text of a value; throws for values JSON cannot represent (undefined, functions, symbols). */
export function toJson(key: string, value: unknown): string {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new TypeError(`value for ${key} is not JSON-serialisable`);
  return json;
}

/** `"field":value` then each `alongside` field, comma-separated: what a winning claim appends inside the object. */
export function claimPair(key: string, field: string, value: unknown, alongside: Record<string, unknown> = {}): string {
  let pair = `${JSON.stringify(field)}:${toJson(key, value)}`;
  for (const [name, extra] of Object.entries(alongside)) {
    if (name === field) throw new TypeError(`claim of ${key}: "${name}" is both the claimed field and an alongside one`);
    pair += `,${JSON.stringify(name)}:${toJson(key, extra)}`;
  }
  return pair;
}
