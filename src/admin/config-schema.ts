// `vestibule config-schema`: writes the JSON Schemas of the configuration file and of a provider file into schemas/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { configJsonSchema, providerJsonSchema } from '../config/json-schema.js';
import { output, parseOptions, type AdminCommand } from './command.js';

export const configSchema: AdminCommand = {
  path: 'config-schema',
  summary: 'write schemas/config.schema.json and schemas/provider.schema.json',
  usage: 'usage: vestibule config-schema [--json]\n',
  async run(args) {
    const json = parseOptions(args, {}, { min: 0, max: 0 }).values.json === true;
    const files = ['schemas/config.schema.json', 'schemas/provider.schema.json'];
    mkdirSync('schemas', { recursive: true });
    writeFileSync(files[0]!, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    writeFileSync(files[1]!, `${JSON.stringify(providerJsonSchema(), null, 2)}\n`);
    output(json, { wrote: files }, () => [`wrote ${files.join(' and ')}`]);
    return 0;
  },
};
