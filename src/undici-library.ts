// undici (Agent with a checked-address lookup, fetch through it), loaded at the first guarded outbound request: an idle broker does not carry it (about 18 MB resident).
let library: Promise<typeof import('undici')> | undefined;

export const undiciLibrary = () => (library ??= import('undici'));
